// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// A Llama-family decoder (Llama, Mistral, Qwen2, Granite) run natively with libtorch on the
// CPU in float32: RMSNorm, rotary embeddings (Hugging Face's rotate-half layout or llama2.c's
// interleaved pairs; linear and llama3 scaling), grouped-query causal attention, SwiGLU, tied
// or separate output embeddings, Granite's multipliers.
#include "models/language_model.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace qs {

class LlamaModel : public LanguageModel
{
public:
    // Loads every weight as float32 (bf16/fp16/fp8 and stored quantized weights are converted or
    // dequantized). FormatError names a missing tensor or a shape that does not fit the config.
    static LlamaModel load(
        const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform = {});

    const ModelConfig& config() const override { return m_config; }

    // Observes, per layer, the twelve points of ActivationObserver: attention.input is the input
    // norm's output, attention.q/.k come after the rotation, mlp.activation_input is the gate
    // projection's output and mlp.activation_output silu(gate).
    at::Tensor forward(const std::vector<std::int64_t>& tokens, const LinearInputHook& hook = {},
        const ActivationObserver& observe = {}) const override;

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
