// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// A language model run natively with libtorch on the CPU in float32: the interface the
// evaluation, calibration and activation capture use, whatever the family (Llama, GPT-2 and
// nanoGPT, BERT/RoBERTa). loadLanguageModel picks the family from the config.
#include "models/model_config.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qs {

class Checkpoint;

// Called on the input of every Linear module during a forward pass, with the module's path
// ("model.layers.0.self_attn.q_proj") and the input [tokens, in_features]; returns the tensor
// the module computes with (the input itself to observe only, a fake-quantized copy to
// simulate activation quantization).
using LinearInputHook = std::function<at::Tensor(const std::string& module, const at::Tensor& input)>;

// Called at the named points inside each layer ("model.layers.3.attention.q", ...) with the
// tensor there; `kind` is the point without the layer prefix ("attention.q"). `perChannel` is
// false for attention scores and probabilities, which are given as flat values (of the causal
// lower triangle in a decoder). The twelve points of the nanoGPT quantization fork, per layer:
// attention.input (what q/k/v read), attention.q and attention.k (as QK sees them, after any
// rotation), attention.softmax_input (scaled scores), attention.probabilities, attention.v,
// attention.pv_output, attention.output (the output projection's output), mlp.input,
// mlp.activation_input, mlp.activation_output and mlp.output (the down projection's output).
using ActivationObserver
    = std::function<void(const std::string& point, const std::string& kind, const at::Tensor& x, bool perChannel)>;

// Applied to each Linear weight when a model is loaded (fake quantization): the module's path
// and its float32 weight [out, in]; returns the weight to run with.
using WeightTransform = std::function<at::Tensor(const std::string& module, const at::Tensor& weight)>;

class LanguageModel
{
public:
    virtual ~LanguageModel() = default;

    virtual const ModelConfig& config() const = 0;

    // Logits [tokens, vocab] (float32) of one sequence starting at position 0: next-token logits
    // for a decoder, masked-LM logits at every position for an encoder. Ids must lie in
    // [0, vocab) (UsageError otherwise).
    virtual at::Tensor forward(const std::vector<std::int64_t>& tokens, const LinearInputHook& hook = {},
        const ActivationObserver& observe = {}) const
        = 0;

    // Greedy decoding (temperature 0): appends up to `steps` tokens to `prompt`, stopping early at
    // EOS (or BOS, which llama2.c emits between stories) or at the maximum context. UsageError for
    // an encoder. This default runs the whole sequence again per token; the loaded models keep a
    // KV cache instead.
    virtual std::vector<std::int64_t> greedy(std::vector<std::int64_t> prompt, int steps) const;

    // The Linear modules of the output head ("lm_head"; BERT's cls.predictions.transform.dense
    // and .decoder): consumers keep their activations in float, so evaluation does too.
    virtual std::vector<std::string> headModules() const { return { "lm_head" }; }

protected:
    // UsageError naming the id when a token lies outside [0, vocab).
    void checkTokens(const std::vector<std::int64_t>& tokens) const;
    // Whether greedy decoding stops after `next`.
    bool endsGeneration(std::int64_t next) const;
};

// The model the config describes (see modelConfigFromJson), every block loaded and resident
// (models/block.h: the block runner streams them instead), weights as float32; stored quantized
// and fp8 weights are dequantized, the embeddings and an untransformed head stay mapped.
// FormatError names a missing tensor or a shape that does not fit the config.
std::unique_ptr<LanguageModel> loadLanguageModel(
    const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform = {});

} // namespace qs
