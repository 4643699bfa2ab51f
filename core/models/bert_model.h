// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// BERT and RoBERTa masked-LM encoders run natively with libtorch on the CPU in float32: word +
// position (+ RoBERTa's padding_idx + 1 offset) + token type 0 embeddings and their LayerNorm,
// post-LN layers with bidirectional attention over one unpadded sequence, and the masked-LM
// head (BERT's cls.predictions, RoBERTa's lm_head) with its decoder tied to the word embeddings
// unless stored.
#include "models/language_model.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace qs {

class WeightLoader;

class BertModel : public LanguageModel
{
public:
    // Tensor names with or without the "bert."/"roberta." prefix; the hook and transform see the
    // checkpoint's module paths ("bert.encoder.layer.0.attention.self.query",
    // "cls.predictions.transform.dense", "lm_head.decoder"). FormatError when the checkpoint has
    // no masked-LM head, which scoring needs.
    static BertModel load(
        const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform = {});

    const ModelConfig& config() const override { return m_config; }

    // Masked-LM logits [tokens, vocab] at every position (at most maxPositions tokens).
    // Observes the twelve points under the layer path ("bert.encoder.layer.3.attention.q"):
    // attention.input is the layer input, attention.output the attention.output.dense output
    // (before its residual LayerNorm), mlp.input the attention block's normalized output,
    // mlp.activation_input/output around hidden_act, mlp.output the output.dense output.
    at::Tensor forward(const std::vector<std::int64_t>& tokens, const LinearInputHook& hook = {},
        const ActivationObserver& observe = {}) const override;

    std::vector<std::string> headModules() const override { return { m_transform.module, m_decoderModule }; }

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
        std::string path; // "bert.encoder.layer.0."
        Projection q, k, v, attnOut, up, down;
        Norm attnNorm, outNorm;
    };

    Norm loadNorm(const WeightLoader& w, const std::string& module) const;
    Projection loadProjection(
        const WeightLoader& w, const std::string& module, std::int64_t out, std::int64_t in) const;
    at::Tensor normalize(const at::Tensor& x, const Norm& norm) const;
    at::Tensor positions(const std::vector<std::int64_t>& tokens) const;

    ModelConfig m_config;
    at::Tensor m_words, m_positions, m_type; // m_type: token type 0's row, or undefined
    Norm m_embedNorm;
    std::vector<Layer> m_layers;
    Projection m_transform; // cls.predictions.transform.dense or lm_head.dense
    Norm m_headNorm;
    std::string m_headActivation;
    std::string m_decoderModule;
    at::Tensor m_decoder, m_decoderBias;
};

} // namespace qs
