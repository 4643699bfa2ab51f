// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Perplexity of a model on token ids, and how far a (fake-)quantized model is from the float
// one: mean KL divergence of the next-token distributions and top-1 agreement.
#include "models/language_model.h"

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
    // Encoders (BERT, RoBERTa): masked-LM pseudo-perplexity. Disjoint windows of seqLen tokens
    // (the last may be shorter); window pass j replaces the positions p with p % maskEvery == j
    // by the mask token and scores them, so every position is predicted exactly once from its
    // two-sided context with one token in maskEvery hidden; ppl = exp(mean NLL).
    Masked,
};

const char* perplexityProtocolName(PerplexityProtocol p); // "overlap", "blocks", "masked"
// The protocol of a name; UsageError listing the names otherwise.
PerplexityProtocol perplexityProtocolFromName(const std::string& name);

struct PerplexityOptions
{
    int seqLen = 256;
    PerplexityProtocol protocol = PerplexityProtocol::Overlap;
    int maxWindows = 0; // 0: all
    // Masked only: the mask token's id, how far apart masked positions are (7: about BERT's 15%),
    // and ids never scored (the [CLS]/[SEP], <s>/</s>, padding the data may hold).
    std::int64_t maskToken = -1;
    int maskEvery = 7;
    std::vector<std::int64_t> unscored;
    // Masked only: what the encoder saw around every training sequence ([CLS] .. [SEP], <s> ..
    // </s>), added around each window unless the window already starts or ends with it. Never
    // scored; seqLen plus these must fit the model's positions.
    std::vector<std::int64_t> windowPrefix, windowSuffix;
};

struct PerplexityResult
{
    double perplexity = 0;
    double meanNll = 0; // nats per predicted token (Overlap) or per counted token (Blocks)
    std::int64_t tokens = 0; // predicted tokens
    std::int64_t forwardTokens = 0; // tokens run through the evaluated model (masked: every pass)
    int windows = 0;
    // Against a reference model (when given): its perplexity on the same windows, the mean KL
    // divergence KL(reference || model) per predicted token and the share of positions whose
    // most likely next token agrees.
    bool compared = false;
    double referencePerplexity = 0;
    double klDivergence = 0;
    double top1Agreement = 0;
};

// One forward pass of an evaluation: the tokens it runs and the rows of its logits it scores.
struct ScoredPass
{
    std::vector<std::int64_t> input;
    std::vector<std::int64_t> rows; // positions of `input` whose logits are scored
    std::vector<std::int64_t> targets; // the token each scored row predicts
    double weight = 1; // Blocks: each prediction counts length / predicted times
    int window = 0; // the window it belongs to (masked scoring runs each window several times)
};

// The passes the protocol makes of the ids, after checking the options against the model (the
// errors of evaluatePerplexity). Passes that score nothing are left out.
std::vector<ScoredPass> scoredPasses(
    const ModelConfig& config, const std::vector<std::int64_t>& ids, const PerplexityOptions& options);

// Sums of NLLs (and of the comparison with a reference model) over scored rows, from whole
// logits or vocabulary chunk by chunk (online log-sum-exp), into a PerplexityResult.
class PerplexitySums
{
public:
    // logits [rows, vocab] of the evaluated model and the reference's (or undefined).
    void add(const ScoredPass& pass, const at::Tensor& logits, const at::Tensor& referenceLogits);
    void addChunked(const ScoredPass& pass, double nll, double referenceNll, double kl, std::int64_t agree);
    void finish(PerplexityResult& r) const;

private:
    double m_nll = 0, m_referenceNll = 0, m_kl = 0, m_counted = 0;
    std::int64_t m_tokens = 0, m_agree = 0;
};

// `hook` runs on the inputs of the evaluated model's Linear modules (activation fake
// quantization); the reference model runs without it. Progress counts windows; cancellation is
// honoured between windows. UsageError when there are fewer than two ids or seqLen < 2, when the
// protocol does not fit the model (masked scoring is for encoders, the others for decoders) or
// when masked scoring has no mask token.
PerplexityResult evaluatePerplexity(const LanguageModel& model, const std::vector<std::int64_t>& ids,
    const PerplexityOptions& options, Progress& progress, const LinearInputHook& hook = {},
    const LanguageModel* reference = nullptr);

} // namespace qs
