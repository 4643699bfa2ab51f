// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/perplexity.h"

#include "error.h"
#include "jobs/progress.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace qs {

const char* perplexityProtocolName(PerplexityProtocol p)
{
    switch (p) {
    case PerplexityProtocol::Blocks:
        return "blocks";
    case PerplexityProtocol::Masked:
        return "masked";
    case PerplexityProtocol::Overlap:
        break;
    }
    return "overlap";
}

PerplexityProtocol perplexityProtocolFromName(const std::string& name)
{
    for (auto p : { PerplexityProtocol::Overlap, PerplexityProtocol::Blocks, PerplexityProtocol::Masked }) {
        if (name == perplexityProtocolName(p))
            return p;
    }
    throw UsageError("unknown perplexity protocol '" + name + "'; protocols: overlap, blocks, masked");
}

namespace {

struct Window
{
    std::int64_t begin = 0;
    std::int64_t length = 0; // tokens of the data the window covers
};

std::vector<Window> windowsOf(std::int64_t n, const PerplexityOptions& o)
{
    std::vector<Window> w;
    switch (o.protocol) {
    case PerplexityProtocol::Overlap:
        for (std::int64_t begin = 0; begin + 1 < n; begin += o.seqLen)
            w.push_back({ begin, std::min<std::int64_t>(o.seqLen + 1, n - begin) });
        break;
    case PerplexityProtocol::Blocks:
        for (std::int64_t i = 0; (i + 1) * o.seqLen <= n; ++i)
            w.push_back({ i * o.seqLen, o.seqLen });
        break;
    case PerplexityProtocol::Masked:
        for (std::int64_t begin = 0; begin + 1 < n; begin += o.seqLen)
            w.push_back({ begin, std::min<std::int64_t>(o.seqLen, n - begin) });
        break;
    }
    if (o.maxWindows > 0 && static_cast<int>(w.size()) > o.maxWindows)
        w.resize(static_cast<std::size_t>(o.maxWindows));
    return w;
}

// One forward pass's predictions: the model's logits at the scored rows and the targets.
struct Scored
{
    at::Tensor logits; // [k, vocab]
    at::Tensor targets; // [k]
    double weight = 1; // Blocks: each prediction counts length / predicted times
};

// Sums of the NLLs and of the comparison with the reference.
class Accumulator
{
public:
    void add(const Scored& s, const at::Tensor& referenceLogits)
    {
        // log-softmax in float32 (as PyTorch's cross-entropy), sums in double.
        const at::Tensor logp = at::log_softmax(s.logits, -1);
        const auto predicted = s.targets.size(0);
        m_nll += -logp.gather(1, s.targets.unsqueeze(1)).sum(at::kDouble).item<double>() * s.weight;
        m_counted += static_cast<double>(predicted) * s.weight;
        m_tokens += predicted;
        if (!referenceLogits.defined())
            return;
        const at::Tensor refLogp = at::log_softmax(referenceLogits, -1);
        m_referenceNll += -refLogp.gather(1, s.targets.unsqueeze(1)).sum(at::kDouble).item<double>() * s.weight;
        m_kl += (refLogp.exp() * (refLogp - logp)).sum(at::kDouble).item<double>();
        m_agree += (refLogp.argmax(-1) == logp.argmax(-1)).sum().item<std::int64_t>();
    }

    void finish(PerplexityResult& r) const
    {
        r.tokens = m_tokens;
        r.meanNll = m_nll / m_counted;
        r.perplexity = std::exp(r.meanNll);
        if (r.compared) {
            r.referencePerplexity = std::exp(m_referenceNll / m_counted);
            r.klDivergence = m_kl / static_cast<double>(m_tokens);
            r.top1Agreement = static_cast<double>(m_agree) / static_cast<double>(m_tokens);
        }
    }

private:
    double m_nll = 0, m_referenceNll = 0, m_kl = 0, m_counted = 0;
    std::int64_t m_tokens = 0, m_agree = 0;
};

void checkOptions(const LanguageModel& model, const PerplexityOptions& o)
{
    const ModelConfig& c = model.config();
    if (o.seqLen < 2)
        throw UsageError("the sequence length must be at least 2");
    if (o.seqLen > c.maxPositions)
        throw UsageError("sequence length " + std::to_string(o.seqLen) + " exceeds the model's "
            + std::to_string(c.maxPositions) + " positions");
    const bool masked = o.protocol == PerplexityProtocol::Masked;
    if (masked && c.causal())
        throw UsageError(std::string("masked-LM scoring is for encoders; a ") + c.modelType
            + " decoder is scored with the overlap or blocks protocol");
    if (!masked && !c.causal())
        throw UsageError("a " + c.modelType + " encoder predicts masked tokens, not the next one: use the masked protocol");
    if (masked && (o.maskToken < 0 || o.maskToken >= c.vocabSize))
        throw UsageError("masked-LM scoring needs the mask token's id (the tokenizer's [MASK] or <mask>)");
    if (masked && o.maskEvery < 1)
        throw UsageError("the masking stride must be at least 1");
    const auto around = static_cast<std::int64_t>(o.windowPrefix.size() + o.windowSuffix.size());
    if (masked && o.seqLen + around > c.maxPositions)
        throw UsageError("sequence length " + std::to_string(o.seqLen) + " plus the " + std::to_string(around)
            + " sequence markers exceeds the model's " + std::to_string(c.maxPositions) + " positions");
}

} // namespace

PerplexityResult evaluatePerplexity(const LanguageModel& model, const std::vector<std::int64_t>& ids,
    const PerplexityOptions& options, Progress& progress, const LinearInputHook& hook,
    const LanguageModel* reference)
{
    checkOptions(model, options);
    if (ids.size() < 2)
        throw UsageError("perplexity needs at least two tokens");
    const std::vector<Window> windows = windowsOf(static_cast<std::int64_t>(ids.size()), options);
    if (windows.empty())
        throw UsageError("the data holds fewer tokens than one block of " + std::to_string(options.seqLen));
    PerplexityResult r;
    r.compared = reference != nullptr;
    Accumulator sums;
    // The model's and the reference's logits at `rows` of one input.
    auto score = [&](const std::vector<std::int64_t>& input, const at::Tensor& rows, Scored s) {
        s.logits = model.forward(input, hook).index_select(0, rows);
        r.forwardTokens += static_cast<std::int64_t>(input.size());
        const at::Tensor ref = reference ? reference->forward(input).index_select(0, rows) : at::Tensor();
        sums.add(s, ref);
    };
    ProgressUpdate update;
    update.stepsTotal = static_cast<std::int64_t>(windows.size());
    for (const Window& w : windows) {
        progress.checkCancelled();
        const auto first = ids.begin() + w.begin;
        if (options.protocol == PerplexityProtocol::Masked) {
            // The window between its sequence markers (unless the data already has them there).
            const std::vector<std::int64_t> window(first, first + w.length);
            const std::vector<std::int64_t>& pre = options.windowPrefix;
            const std::vector<std::int64_t>& post = options.windowSuffix;
            const bool starts = window.size() >= pre.size() && std::equal(pre.begin(), pre.end(), window.begin());
            const bool ends = window.size() >= post.size() && std::equal(post.rbegin(), post.rend(), window.rbegin());
            std::vector<std::int64_t> original = starts ? std::vector<std::int64_t>() : pre;
            const auto offset = static_cast<std::int64_t>(original.size());
            original.insert(original.end(), window.begin(), window.end());
            if (!ends)
                original.insert(original.end(), post.begin(), post.end());
            for (int j = 0; j < options.maskEvery; ++j) {
                std::vector<std::int64_t> input = original, rows, targets;
                for (std::int64_t p = offset + j; p < offset + w.length; p += options.maskEvery) {
                    const std::int64_t id = original[static_cast<std::size_t>(p)];
                    if (std::find(options.unscored.begin(), options.unscored.end(), id) != options.unscored.end())
                        continue;
                    input[static_cast<std::size_t>(p)] = options.maskToken;
                    rows.push_back(p);
                    targets.push_back(id);
                }
                if (rows.empty())
                    continue;
                Scored s;
                s.targets = at::tensor(targets, at::kLong);
                score(input, at::tensor(rows, at::kLong), s);
            }
        } else {
            // Overlap: run the first length - 1 tokens, predict the next; Blocks: run all, predict
            // positions 1 .. length - 1 from 0 .. length - 2 (the last logit is unused), each
            // prediction weighted so that the block counts length times its mean.
            const bool overlap = options.protocol == PerplexityProtocol::Overlap;
            const std::int64_t run = overlap ? w.length - 1 : w.length;
            const std::vector<std::int64_t> input(first, first + run);
            Scored s;
            s.targets = at::tensor(std::vector<std::int64_t>(first + 1, first + w.length), at::kLong);
            const std::int64_t predicted = w.length - 1;
            s.weight = overlap ? 1.0 : static_cast<double>(w.length) / static_cast<double>(predicted);
            score(input, at::arange(predicted, at::kLong), s);
        }
        ++r.windows;
        ++update.stepsDone;
        progress.report(update);
    }
    if (!(r.windows > 0))
        throw UsageError("no window of the data holds a token to score");
    sums.finish(r);
    if (r.tokens == 0)
        throw UsageError("no token of the data could be scored (all are special tokens)");
    return r;
}

} // namespace qs
