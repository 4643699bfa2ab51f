// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The Llama family (Llama, Mistral, Qwen2, Granite) as blocks, in float32 on the CPU: RMSNorm,
// rotary embeddings (Hugging Face's rotate-half layout or llama2.c's interleaved pairs; linear
// and llama3 scaling), grouped-query causal attention, SwiGLU, tied or separate output
// embeddings, Granite's multipliers.
#include "models/block.h"

namespace qs {

class LlamaBlocks final : public ModelBlocks
{
public:
    LlamaBlocks(const Checkpoint& checkpoint, const ModelConfig& config);

    std::string layerName(std::int64_t layer) const override;
    at::Tensor embed(const std::vector<std::int64_t>& tokens, std::int64_t position = 0) const override;
    // Observes, per layer, the twelve points of ActivationObserver: attention.input is the input
    // norm's output, attention.q/.k come after the rotation, mlp.activation_input is the gate
    // projection's output and mlp.activation_output silu(gate).
    std::unique_ptr<Block> loadLayer(std::int64_t layer, const WeightTransform& transform = {}) const override;
    std::unique_ptr<Head> loadHead(const WeightTransform& transform = {}) const override;
    std::vector<std::string> headModules() const override { return { "lm_head" }; }
};

} // namespace qs
