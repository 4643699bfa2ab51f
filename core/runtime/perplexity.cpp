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

void checkOptions(const ModelConfig& c, const PerplexityOptions& o)
{
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

void PerplexitySums::add(const ScoredPass& pass, const at::Tensor& logits, const at::Tensor& referenceLogits)
{
    // log-softmax in float32 (as PyTorch's cross-entropy), sums in double.
    const at::Tensor targets = at::tensor(pass.targets, at::kLong).unsqueeze(1);
    const at::Tensor logp = at::log_softmax(logits, -1);
    const auto predicted = static_cast<std::int64_t>(pass.targets.size());
    m_nll += -logp.gather(1, targets).sum(at::kDouble).item<double>() * pass.weight;
    m_counted += static_cast<double>(predicted) * pass.weight;
    m_tokens += predicted;
    if (!referenceLogits.defined())
        return;
    const at::Tensor refLogp = at::log_softmax(referenceLogits, -1);
    m_referenceNll += -refLogp.gather(1, targets).sum(at::kDouble).item<double>() * pass.weight;
    m_kl += (refLogp.exp() * (refLogp - logp)).sum(at::kDouble).item<double>();
    m_agree += (refLogp.argmax(-1) == logp.argmax(-1)).sum().item<std::int64_t>();
}

void PerplexitySums::addChunked(const ScoredPass& pass, double nll, double referenceNll, double kl, std::int64_t agree)
{
    const auto predicted = static_cast<std::int64_t>(pass.targets.size());
    m_nll += nll * pass.weight;
    m_referenceNll += referenceNll * pass.weight;
    m_counted += static_cast<double>(predicted) * pass.weight;
    m_tokens += predicted;
    m_kl += kl;
    m_agree += agree;
}

void PerplexitySums::finish(PerplexityResult& r) const
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

namespace {

// Masked scoring: the window between its sequence markers (unless the data already has them
// there), one pass per masking offset.
void maskedPasses(const std::vector<std::int64_t>& window, int index, const PerplexityOptions& o,
    std::vector<ScoredPass>& passes)
{
    const std::vector<std::int64_t>& pre = o.windowPrefix;
    const std::vector<std::int64_t>& post = o.windowSuffix;
    const bool starts = window.size() >= pre.size() && std::equal(pre.begin(), pre.end(), window.begin());
    const bool ends = window.size() >= post.size() && std::equal(post.rbegin(), post.rend(), window.rbegin());
    std::vector<std::int64_t> original = starts ? std::vector<std::int64_t>() : pre;
    const auto offset = static_cast<std::int64_t>(original.size());
    const auto length = static_cast<std::int64_t>(window.size());
    original.insert(original.end(), window.begin(), window.end());
    if (!ends)
        original.insert(original.end(), post.begin(), post.end());
    for (int j = 0; j < o.maskEvery; ++j) {
        ScoredPass pass;
        pass.input = original;
        pass.window = index;
        for (std::int64_t p = offset + j; p < offset + length; p += o.maskEvery) {
            const std::int64_t id = original[static_cast<std::size_t>(p)];
            if (std::find(o.unscored.begin(), o.unscored.end(), id) != o.unscored.end())
                continue;
            pass.input[static_cast<std::size_t>(p)] = o.maskToken;
            pass.rows.push_back(p);
            pass.targets.push_back(id);
        }
        if (!pass.rows.empty())
            passes.push_back(std::move(pass));
    }
}

} // namespace

std::vector<ScoredPass> scoredPasses(
    const ModelConfig& config, const std::vector<std::int64_t>& ids, const PerplexityOptions& options)
{
    checkOptions(config, options);
    if (ids.size() < 2)
        throw UsageError("perplexity needs at least two tokens");
    const std::vector<Window> windows = windowsOf(static_cast<std::int64_t>(ids.size()), options);
    if (windows.empty())
        throw UsageError("the data holds fewer tokens than one block of " + std::to_string(options.seqLen));
    std::vector<ScoredPass> passes;
    for (std::size_t i = 0; i < windows.size(); ++i) {
        const Window& w = windows[i];
        const auto first = ids.begin() + w.begin;
        if (options.protocol == PerplexityProtocol::Masked) {
            maskedPasses(std::vector<std::int64_t>(first, first + w.length), static_cast<int>(i), options, passes);
            continue;
        }
        // Overlap: run the first length - 1 tokens, predict the next; Blocks: run all, predict
        // positions 1 .. length - 1 from 0 .. length - 2 (the last logit is unused), each
        // prediction weighted so that the block counts length times its mean.
        const bool overlap = options.protocol == PerplexityProtocol::Overlap;
        ScoredPass pass;
        pass.window = static_cast<int>(i);
        pass.input.assign(first, first + (overlap ? w.length - 1 : w.length));
        pass.targets.assign(first + 1, first + w.length);
        const std::int64_t predicted = w.length - 1;
        for (std::int64_t r = 0; r < predicted; ++r)
            pass.rows.push_back(r);
        pass.weight = overlap ? 1.0 : static_cast<double>(w.length) / static_cast<double>(predicted);
        passes.push_back(std::move(pass));
    }
    if (passes.empty())
        throw UsageError("no token of the data could be scored (all are special tokens)");
    return passes;
}

PerplexityResult evaluatePerplexity(const LanguageModel& model, const std::vector<std::int64_t>& ids,
    const PerplexityOptions& options, Progress& progress, const LinearInputHook& hook,
    const LanguageModel* reference)
{
    const std::vector<ScoredPass> passes = scoredPasses(model.config(), ids, options);
    PerplexityResult r;
    r.compared = reference != nullptr;
    PerplexitySums sums;
    ProgressUpdate update;
    update.stepsTotal = passes.back().window + 1;
    for (std::size_t i = 0; i < passes.size(); ++i) {
        progress.checkCancelled();
        const ScoredPass& pass = passes[i];
        const at::Tensor rows = at::tensor(pass.rows, at::kLong);
        const at::Tensor logits = model.forward(pass.input, hook).index_select(0, rows);
        r.forwardTokens += static_cast<std::int64_t>(pass.input.size());
        sums.add(pass, logits, reference ? reference->forward(pass.input).index_select(0, rows) : at::Tensor());
        if (i + 1 == passes.size() || passes[i + 1].window != pass.window) {
            ++r.windows;
            ++update.stepsDone;
            progress.report(update);
        }
    }
    sums.finish(r);
    return r;
}

} // namespace qs
