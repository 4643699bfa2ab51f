// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The GPT-2 family run natively with libtorch on the CPU in float32: Hugging Face GPT-2
// (Conv1D weights stored [in, out], fused c_attn, LayerNorm, tanh GELU), karpathy's nanoGPT
// (nn.Linear weights, fused c_attn, LayerNorm with or without bias, exact GELU) and the
// ReaLLMASIC quantization fork's default architecture (separate c_attn_q/k/v with n_kv_group
// key/value heads, RMSNorm without epsilon and parameter `gain`, optional biases). Pre-LN blocks,
// learned absolute positions, causal attention, lm_head tied to wte unless stored.
#include "models/language_model.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace qs {

class WeightLoader;

class Gpt2Model : public LanguageModel
{
public:
    // The tensor names may start with "transformer." (Hugging Face GPT2LMHeadModel, nanoGPT) or
    // not (GPT2Model); the Linear module paths given to the hook and the transform are the
    // checkpoint's ("transformer.h.0.attn.c_attn", "lm_head"). The fused c_attn is one module
    // whose weight the transform sees whole, as [3 * hidden, hidden].
    static Gpt2Model load(
        const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform = {});

    const ModelConfig& config() const override { return m_config; }

    // Observes the twelve points of ActivationObserver under the layer path
    // ("transformer.h.3.attention.q"): attention.input is ln_1's output, mlp.activation_input
    // c_fc's output, mlp.activation_output the activation's.
    at::Tensor forward(const std::vector<std::int64_t>& tokens, const LinearInputHook& hook = {},
        const ActivationObserver& observe = {}) const override;

private:
    struct Norm
    {
        at::Tensor weight, bias;
    };
    struct Projection
    {
        std::string module;
        at::Tensor weight, bias;
    };
    struct Layer
    {
        std::string path; // "transformer.h.0."
        Norm norm1, norm2;
        Projection qkv; // fused c_attn
        Projection q, k, v; // the fork's c_attn_q/k/v
        Projection proj, fc, down;
        double inputOffset = 0, outputOffset = 0;
    };

    Norm loadNorm(const WeightLoader& w, const std::string& module, NormKind kind) const;
    Projection loadProjection(
        const WeightLoader& w, const std::string& module, std::int64_t out, std::int64_t in) const;
    at::Tensor normalize(const at::Tensor& x, const Norm& norm, NormKind kind) const;
    at::Tensor project(const at::Tensor& x, const Projection& p, const LinearInputHook& hook) const;

    ModelConfig m_config;
    std::string m_prefix; // "transformer." or ""
    at::Tensor m_wte, m_wpe;
    Norm m_finalNorm;
    at::Tensor m_head; // lm_head, or wte when tied
    std::vector<Layer> m_layers;
};

} // namespace qs
