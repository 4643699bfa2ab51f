#pragma once

// A Llama-family decoder (Llama, Mistral, Qwen2, Granite) run natively with libtorch on the
// CPU in float32: RMSNorm, rotary embeddings (Hugging Face's rotate-half layout or llama2.c's
// interleaved pairs; linear and llama3 scaling), grouped-query causal attention, SwiGLU, tied
// or separate output embeddings, Granite's multipliers.
#include "runtime/model_config.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace qs {

class Checkpoint;

// Called on the input of every Linear module during a forward pass, with the module's path
// ("model.layers.0.self_attn.q_proj") and the input [tokens, in_features]; returns the tensor
// the module computes with (the input itself to observe only, a fake-quantized copy to
// simulate activation quantization).
using LinearInputHook = std::function<at::Tensor(const std::string& module, const at::Tensor& input)>;

// Called at the named points inside each decoder layer ("model.layers.3.attention.q", ...; see
// LlamaModel::forward) with the tensor there; `perChannel` is false for attention scores and
// probabilities, which are given as the flat values of the causal (lower) triangle.
using ActivationObserver
    = std::function<void(const std::string& point, const std::string& kind, const at::Tensor& x, bool perChannel)>;

// Applied to each Linear weight when a model is loaded (fake quantization): the module's path
// and its float32 weight; returns the weight to run with.
using WeightTransform = std::function<at::Tensor(const std::string& module, const at::Tensor& weight)>;

class LlamaModel
{
public:
    // Loads every weight as float32 (bf16/fp16/fp8 and stored quantized weights are converted or
    // dequantized). FormatError names a missing tensor or a shape that does not fit the config.
    static LlamaModel load(
        const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform = {});

    const ModelConfig& config() const { return m_config; }

    // Logits [tokens, vocab] (float32) of a sequence starting at position 0. Ids must lie in
    // [0, vocab) (UsageError otherwise). `observe` sees, per layer, the nanoGPT fork's twelve
    // points: attention.input (after the norm), attention.q and .k (after the rotation, as QK sees
    // them), attention.softmax_input (scaled scores), attention.probabilities, attention.v,
    // attention.pv_output, attention.output (o_proj's output), mlp.input, mlp.activation_input
    // (gate), mlp.activation_output (silu(gate)) and mlp.output (down's output).
    at::Tensor forward(const std::vector<std::int64_t>& tokens, const LinearInputHook& hook = {},
        const ActivationObserver& observe = {}) const;

    // Greedy decoding (temperature 0): appends `steps` tokens to `prompt`, stopping early at EOS
    // or at the maximum context.
    std::vector<std::int64_t> greedy(std::vector<std::int64_t> prompt, int steps) const;

private:
    struct Layer
    {
        at::Tensor inputNorm, postNorm;
        at::Tensor q, k, v, o, qBias, kBias, vBias;
        at::Tensor gate, up, down;
    };

    at::Tensor rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const;
    at::Tensor inverseFrequencies() const;

    ModelConfig m_config;
    at::Tensor m_embed;
    at::Tensor m_norm;
    at::Tensor m_head; // lm_head, or the embedding when tied
    std::vector<Layer> m_layers;
};

} // namespace qs
