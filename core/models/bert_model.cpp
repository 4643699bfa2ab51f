// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/bert_model.h"

#include "error.h"
#include "io/checkpoint.h"
#include "models/layers.h"
#include "models/self_attention.h"
#include "models/weight_loader.h"

#include <ATen/ATen.h>

namespace qs {
namespace {

// "bert." / "roberta." (a *ForMaskedLM checkpoint) or "" (a bare encoder).
std::string detectPrefix(const WeightLoader& w, const Checkpoint& checkpoint, const std::string& modelType)
{
    const std::string own = modelType + ".";
    const std::string other = modelType == "roberta" ? "bert." : "roberta.";
    for (const std::string& p : { own, other, std::string() }) {
        if (w.has(p + "embeddings.word_embeddings.weight"))
            return p;
    }
    throw FormatError(
        "the model has no " + own + "embeddings.word_embeddings.weight, which a " + modelType + " model needs",
        ErrorContext { checkpoint.path().string(), own + "embeddings.word_embeddings.weight", {} });
}

} // namespace

BertModel::Norm BertModel::loadNorm(const WeightLoader& w, const std::string& module) const
{
    const std::int64_t h = m_config.hidden;
    if (!w.has(module + ".weight") && w.has(module + ".gamma")) // the original TensorFlow names
        return { w.tensor(module + ".gamma", { h }), w.tensor(module + ".beta", { h }) };
    return { w.tensor(module + ".weight", { h }), w.tensor(module + ".bias", { h }) };
}

BertModel::Projection BertModel::loadProjection(
    const WeightLoader& w, const std::string& module, std::int64_t out, std::int64_t in) const
{
    return { module, w.linear(module, out, in), w.tensor(module + ".bias", { out }) };
}

BertModel BertModel::load(const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform)
{
    BertModel m;
    m.m_config = config;
    const ModelConfig& c = m.m_config;
    const WeightLoader w(checkpoint, m.m_config, transform);
    const std::int64_t h = c.hidden;

    // The head first: without it there is nothing to score.
    std::string head;
    if (w.has("cls.predictions.transform.dense.weight"))
        head = "cls.predictions.";
    else if (w.has("lm_head.dense.weight"))
        head = "lm_head.";
    else
        throw FormatError("masked-LM scoring needs the model's masked-LM head (cls.predictions.* for BERT, "
                          "lm_head.* for RoBERTa), which this checkpoint does not have",
            ErrorContext { checkpoint.path().string(), {}, {} });

    const std::string e = detectPrefix(w, checkpoint, c.modelType) + "embeddings.";
    m.m_words = w.tensor(e + "word_embeddings.weight", { c.vocabSize, h });
    m.m_positions = w.tensor(e + "position_embeddings.weight", { c.maxPositions + c.positionOffset, h });
    if (c.typeVocabSize > 0)
        m.m_type = w.tensor(e + "token_type_embeddings.weight", { c.typeVocabSize, h })[0].clone();
    m.m_embedNorm = m.loadNorm(w, e + "LayerNorm");

    const std::string encoder = e.substr(0, e.size() - std::string("embeddings.").size()) + "encoder.layer.";
    for (std::int64_t i = 0; i < c.layers; ++i) {
        Layer l;
        l.path = encoder + std::to_string(i) + ".";
        const std::string& p = l.path;
        l.q = m.loadProjection(w, p + "attention.self.query", h, h);
        l.k = m.loadProjection(w, p + "attention.self.key", h, h);
        l.v = m.loadProjection(w, p + "attention.self.value", h, h);
        l.attnOut = m.loadProjection(w, p + "attention.output.dense", h, h);
        l.attnNorm = m.loadNorm(w, p + "attention.output.LayerNorm");
        l.up = m.loadProjection(w, p + "intermediate.dense", c.intermediate, h);
        l.down = m.loadProjection(w, p + "output.dense", h, c.intermediate);
        l.outNorm = m.loadNorm(w, p + "output.LayerNorm");
        m.m_layers.push_back(std::move(l));
    }

    if (head == "cls.predictions.") {
        m.m_transform = m.loadProjection(w, head + "transform.dense", h, h);
        m.m_headNorm = m.loadNorm(w, head + "transform.LayerNorm");
        m.m_headActivation = c.activation; // BertPredictionHeadTransform uses hidden_act
    } else {
        m.m_transform = m.loadProjection(w, head + "dense", h, h);
        m.m_headNorm = m.loadNorm(w, head + "layer_norm");
        m.m_headActivation = "gelu"; // RobertaLMHead: exact GELU whatever hidden_act says
    }
    m.m_decoderModule = head + "decoder";
    m.m_decoder = w.has(m.m_decoderModule + ".weight") ? w.linear(m.m_decoderModule, c.vocabSize, h) : m.m_words;
    m.m_decoderBias = w.has(head + "bias") || !w.has(m.m_decoderModule + ".bias")
        ? w.tensor(head + "bias", { c.vocabSize })
        : w.tensor(m.m_decoderModule + ".bias", { c.vocabSize });
    return m;
}

at::Tensor BertModel::normalize(const at::Tensor& x, const Norm& norm) const
{
    return layers::layerNorm(x, norm.weight, norm.bias, m_config.normEps);
}

at::Tensor BertModel::positions(const std::vector<std::int64_t>& tokens) const
{
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (m_config.positionOffset == 0)
        return at::arange(n, at::kLong);
    // RoBERTa: non-padding tokens count from padding_idx + 1, padding stays at padding_idx.
    const at::Tensor notPad = at::tensor(tokens, at::kLong).ne(m_config.padToken).to(at::kLong);
    return at::cumsum(notPad, 0) * notPad + (m_config.positionOffset - 1);
}

at::Tensor BertModel::forward(
    const std::vector<std::int64_t>& tokens, const LinearInputHook& hook, const ActivationObserver& observe) const
{
    const ModelConfig& c = m_config;
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (n == 0)
        return at::empty({ 0, c.vocabSize });
    checkTokens(tokens);
    if (n > c.maxPositions)
        throw UsageError(std::to_string(n) + " tokens exceed the model's " + std::to_string(c.maxPositions)
            + " positions; use a shorter sequence");
    at::Tensor x
        = m_words.index_select(0, at::tensor(tokens, at::kLong)) + m_positions.index_select(0, positions(tokens));
    if (m_type.defined())
        x = x + m_type;
    x = normalize(x, m_embedNorm);

    auto project = [&](const at::Tensor& in, const Projection& p) {
        return layers::linear(in, p.weight, p.bias, p.module, hook);
    };
    for (const Layer& l : m_layers) {
        auto see = [&](const char* kind, const at::Tensor& t) {
            if (observe)
                observe(l.path + kind, kind, t, true);
        };
        see("attention.input", x);
        const at::Tensor attended
            = selfAttention(project(x, l.q), project(x, l.k), project(x, l.v), c, l.path, observe);
        const at::Tensor out = project(attended, l.attnOut);
        see("attention.output", out);
        x = normalize(x + out, l.attnNorm);
        see("mlp.input", x);
        const at::Tensor up = project(x, l.up);
        see("mlp.activation_input", up);
        const at::Tensor activated = layers::activation(up, c.activation);
        see("mlp.activation_output", activated);
        const at::Tensor down = project(activated, l.down);
        see("mlp.output", down);
        x = normalize(x + down, l.outNorm);
    }
    x = normalize(layers::activation(project(x, m_transform), m_headActivation), m_headNorm);
    return layers::linear(x, m_decoder, m_decoderBias, m_decoderModule, hook).contiguous();
}

} // namespace qs
