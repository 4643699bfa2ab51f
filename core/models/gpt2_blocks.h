// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The GPT-2 family as blocks, in float32 on the CPU: Hugging Face GPT-2 (Conv1D weights stored
// [in, out], fused c_attn, LayerNorm, tanh GELU), karpathy's nanoGPT (nn.Linear weights, fused
// c_attn, LayerNorm with or without bias, exact GELU) and the ReaLLMASIC quantization fork's
// default architecture (separate c_attn_q/k/v with n_kv_group key/value heads, RMSNorm without
// epsilon and parameter `gain`, optional biases). Pre-LN blocks, learned absolute positions,
// causal attention, lm_head tied to wte unless stored.
#include "models/block.h"

namespace qs {

class Gpt2Blocks final : public ModelBlocks
{
public:
    // The tensor names may start with "transformer." (Hugging Face GPT2LMHeadModel, nanoGPT) or
    // not (GPT2Model); the Linear module paths given to the hooks and the transform are the
    // checkpoint's ("transformer.h.0.attn.c_attn", "lm_head"). The fused c_attn is one module
    // whose weight the transform sees whole, as [3 * hidden, hidden].
    Gpt2Blocks(const Checkpoint& checkpoint, const ModelConfig& config);

    std::string layerName(std::int64_t layer) const override; // "transformer.h.3"
    at::Tensor embed(const std::vector<std::int64_t>& tokens, std::int64_t position = 0) const override;
    // Observes the twelve points of ActivationObserver under the layer path
    // ("transformer.h.3.attention.q"): attention.input is ln_1's output, mlp.activation_input
    // c_fc's output, mlp.activation_output the activation's.
    std::unique_ptr<Block> loadLayer(std::int64_t layer, const WeightTransform& transform = {}) const override;
    std::unique_ptr<Head> loadHead(const WeightTransform& transform = {}) const override;
    std::vector<std::string> headModules() const override { return { "lm_head" }; }

private:
    std::string m_prefix; // "transformer." or ""
};

} // namespace qs
