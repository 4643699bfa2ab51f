#include "runtime/perplexity.h"

#include "error.h"
#include "jobs/progress.h"

#include <ATen/ATen.h>

#include <cmath>

namespace qs {

const char* perplexityProtocolName(PerplexityProtocol p)
{
    return p == PerplexityProtocol::Blocks ? "blocks" : "overlap";
}

namespace {

struct Window
{
    std::int64_t begin = 0;
    std::int64_t length = 0; // tokens run; predictions are positions 0 .. length - 2 of the window
};

// The windows and, per window, the input tokens and the targets.
std::vector<Window> windowsOf(std::int64_t n, const PerplexityOptions& o)
{
    std::vector<Window> w;
    if (o.protocol == PerplexityProtocol::Overlap) {
        for (std::int64_t begin = 0; begin + 1 < n; begin += o.seqLen)
            w.push_back({ begin, std::min<std::int64_t>(o.seqLen + 1, n - begin) });
    } else {
        for (std::int64_t i = 0; (i + 1) * o.seqLen <= n; ++i)
            w.push_back({ i * o.seqLen, o.seqLen });
    }
    if (o.maxWindows > 0 && static_cast<int>(w.size()) > o.maxWindows)
        w.resize(static_cast<std::size_t>(o.maxWindows));
    return w;
}

} // namespace

PerplexityResult evaluatePerplexity(const LlamaModel& model, const std::vector<std::int64_t>& ids,
    const PerplexityOptions& options, Progress& progress, const LinearInputHook& hook, const LlamaModel* reference)
{
    if (options.seqLen < 2)
        throw UsageError("the sequence length must be at least 2");
    if (ids.size() < 2)
        throw UsageError("perplexity needs at least two tokens");
    if (options.seqLen > model.config().maxPositions)
        throw UsageError("sequence length " + std::to_string(options.seqLen) + " exceeds the model's "
            + std::to_string(model.config().maxPositions) + " positions");
    const std::vector<Window> windows = windowsOf(static_cast<std::int64_t>(ids.size()), options);
    if (windows.empty())
        throw UsageError("the data holds fewer tokens than one block of " + std::to_string(options.seqLen));
    PerplexityResult r;
    r.compared = reference != nullptr;
    double nll = 0, referenceNll = 0, kl = 0;
    std::int64_t agree = 0, counted = 0;
    ProgressUpdate update;
    update.stepsTotal = static_cast<std::int64_t>(windows.size());
    for (const Window& w : windows) {
        progress.checkCancelled();
        // Overlap: run the first length - 1 tokens, predict the next; Blocks: run all, predict
        // positions 1 .. length - 1 from 0 .. length - 2 (the last logit is unused).
        const std::int64_t run = options.protocol == PerplexityProtocol::Overlap ? w.length - 1 : w.length;
        const std::vector<std::int64_t> input(ids.begin() + w.begin, ids.begin() + w.begin + run);
        const std::vector<std::int64_t> target(ids.begin() + w.begin + 1, ids.begin() + w.begin + w.length);
        const auto predicted = static_cast<std::int64_t>(target.size());
        const at::Tensor logits = model.forward(input, hook).slice(0, 0, predicted);
        // log-softmax in float32 (as PyTorch's cross-entropy), sums in double.
        const at::Tensor logp = at::log_softmax(logits, -1);
        const at::Tensor targets = at::tensor(target, at::kLong);
        const double windowNll = -logp.gather(1, targets.unsqueeze(1)).sum(at::kDouble).item<double>();
        if (options.protocol == PerplexityProtocol::Overlap) {
            nll += windowNll;
            counted += predicted;
        } else {
            nll += windowNll / static_cast<double>(predicted) * static_cast<double>(w.length);
            counted += w.length;
        }
        r.tokens += predicted;
        if (reference) {
            const at::Tensor refLogp = at::log_softmax(reference->forward(input).slice(0, 0, predicted), -1);
            const double refNll = -refLogp.gather(1, targets.unsqueeze(1)).sum(at::kDouble).item<double>();
            referenceNll += options.protocol == PerplexityProtocol::Overlap
                ? refNll
                : refNll / static_cast<double>(predicted) * static_cast<double>(w.length);
            kl += (refLogp.exp() * (refLogp - logp)).sum(at::kDouble).item<double>();
            agree += (refLogp.argmax(-1) == logp.argmax(-1)).sum().item<std::int64_t>();
        }
        ++r.windows;
        ++update.stepsDone;
        progress.report(update);
    }
    r.meanNll = nll / static_cast<double>(counted);
    r.perplexity = std::exp(r.meanNll);
    if (reference) {
        r.referencePerplexity = std::exp(referenceNll / static_cast<double>(counted));
        r.klDivergence = kl / static_cast<double>(r.tokens);
        r.top1Agreement = static_cast<double>(agree) / static_cast<double>(r.tokens);
    }
    return r;
}

} // namespace qs
