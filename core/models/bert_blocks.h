// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// BERT and RoBERTa masked-LM encoders as blocks, in float32 on the CPU: word + position (+
// RoBERTa's padding_idx + 1 offset) + token type 0 embeddings and their LayerNorm, post-LN layers
// with bidirectional attention over one unpadded sequence, and the masked-LM head (BERT's
// cls.predictions, RoBERTa's lm_head) with its decoder tied to the word embeddings unless stored.
#include "models/block.h"

namespace qs {

class BertBlocks final : public ModelBlocks
{
public:
    // Tensor names with or without the "bert."/"roberta." prefix; the hooks and transform see
    // the checkpoint's module paths ("bert.encoder.layer.0.attention.self.query",
    // "cls.predictions.transform.dense", "lm_head.decoder"). FormatError when the checkpoint has
    // no masked-LM head, which scoring needs.
    BertBlocks(const Checkpoint& checkpoint, const ModelConfig& config);

    std::string layerName(std::int64_t layer) const override; // "bert.encoder.layer.3"
    // At most maxPositions tokens (UsageError otherwise); the embeddings' LayerNorm applied.
    at::Tensor embed(const std::vector<std::int64_t>& tokens, std::int64_t position = 0) const override;
    // Observes the twelve points under the layer path ("bert.encoder.layer.3.attention.q"):
    // attention.input is the layer input, attention.output the attention.output.dense output
    // (before its residual LayerNorm), mlp.input the attention block's normalized output,
    // mlp.activation_input/output around hidden_act, mlp.output the output.dense output.
    std::unique_ptr<Block> loadLayer(std::int64_t layer, const WeightTransform& transform = {}) const override;
    std::unique_ptr<Head> loadHead(const WeightTransform& transform = {}) const override;
    std::vector<std::string> headModules() const override;

private:
    at::Tensor positions(const std::vector<std::int64_t>& tokens) const;

    std::string m_embeddings; // "bert.embeddings."
    std::string m_head; // "cls.predictions." or "lm_head."
    at::Tensor m_type; // token type 0's row, or undefined
    at::Tensor m_normWeight, m_normBias; // the embeddings' LayerNorm
};

} // namespace qs
