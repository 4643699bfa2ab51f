#pragma once

// Perplexity of a model on token ids, and how far a (fake-)quantized model is from the float
// one: mean KL divergence of the next-token distributions and top-1 agreement.
#include "runtime/llama_model.h"

#include <atomic>
#include <string>
#include <vector>

namespace qs {

class Progress;

enum class PerplexityProtocol : std::uint8_t
{
    // Windows of seqLen + 1 tokens that overlap by one: each runs from position 0 on its first
    // seqLen tokens and predicts the next seqLen (the last window may be shorter); every token
    // after the first is predicted exactly once (../shared/models/stories260K/SOURCE.md).
    Overlap,
    // fms-mo's Evaluator: n = len / seqLen disjoint blocks (the rest dropped); each block's mean
    // cross-entropy over its seqLen - 1 predictions counts seqLen times; ppl = exp(sum / (n seqLen)).
    Blocks,
};

const char* perplexityProtocolName(PerplexityProtocol p); // "overlap", "blocks"

struct PerplexityOptions
{
    int seqLen = 256;
    PerplexityProtocol protocol = PerplexityProtocol::Overlap;
    int maxWindows = 0; // 0: all
};

struct PerplexityResult
{
    double perplexity = 0;
    double meanNll = 0; // nats per predicted token (Overlap) or per counted token (Blocks)
    std::int64_t tokens = 0; // predicted tokens
    int windows = 0;
    // Against a reference model (when given): its perplexity on the same windows, the mean KL
    // divergence KL(reference || model) per predicted token and the share of positions whose
    // most likely next token agrees.
    bool compared = false;
    double referencePerplexity = 0;
    double klDivergence = 0;
    double top1Agreement = 0;
};

// `hook` runs on the inputs of the evaluated model's Linear modules (activation fake
// quantization); the reference model runs without it. Progress counts windows; cancellation is
// honoured between windows. UsageError when there are fewer than two ids or seqLen < 2.
PerplexityResult evaluatePerplexity(const LlamaModel& model, const std::vector<std::int64_t>& ids,
    const PerplexityOptions& options, Progress& progress, const LinearInputHook& hook = {},
    const LlamaModel* reference = nullptr);

} // namespace qs
