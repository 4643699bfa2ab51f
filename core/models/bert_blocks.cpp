// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/bert_blocks.h"

#include "error.h"
#include "models/layers.h"
#include "models/self_attention.h"
#include "models/vocab_head.h"
#include "models/weight_loader.h"

#include <ATen/ATen.h>

namespace qs {
namespace {

struct Norm
{
    at::Tensor weight, bias;
};

Norm loadNorm(const WeightLoader& w, const ModelConfig& c, const std::string& module)
{
    const std::int64_t h = c.hidden;
    if (!w.has(module + ".weight") && w.has(module + ".gamma")) // the original TensorFlow names
        return { w.tensor(module + ".gamma", { h }), w.tensor(module + ".beta", { h }) };
    return { w.tensor(module + ".weight", { h }), w.tensor(module + ".bias", { h }) };
}

Projection loadProjection(const WeightLoader& w, const std::string& module, std::int64_t out, std::int64_t in)
{
    return { module, w.linear(module, out, in), w.tensor(module + ".bias", { out }) };
}

class BertLayer final : public Block
{
public:
    BertLayer(const WeightLoader& w, const ModelConfig& c, const std::string& name)
        : m_config(c)
    {
        m_name = name;
        const std::string p = name + ".";
        const std::int64_t h = c.hidden;
        m_q = loadProjection(w, p + "attention.self.query", h, h);
        m_k = loadProjection(w, p + "attention.self.key", h, h);
        m_v = loadProjection(w, p + "attention.self.value", h, h);
        m_attnOut = loadProjection(w, p + "attention.output.dense", h, h);
        m_attnNorm = loadNorm(w, c, p + "attention.output.LayerNorm");
        m_up = loadProjection(w, p + "intermediate.dense", c.intermediate, h);
        m_down = loadProjection(w, p + "output.dense", h, c.intermediate);
        m_outNorm = loadNorm(w, c, p + "output.LayerNorm");
        m_others = { m_attnNorm.weight, m_attnNorm.bias, m_outNorm.weight, m_outNorm.bias };
        m_tensors = w.read();
    }

    std::vector<const Projection*> projections() const override
    {
        return { &m_q, &m_k, &m_v, &m_attnOut, &m_up, &m_down };
    }

    at::Tensor forward(const at::Tensor& input, std::int64_t, const BlockHooks& hooks, KvCache*) const override
    {
        const ModelConfig& c = m_config;
        const std::string p = m_name + ".";
        auto see = [&](const char* kind, const at::Tensor& t) {
            if (hooks.observe)
                hooks.observe(p + kind, kind, t, true);
        };
        auto norm = [&](const at::Tensor& x, const Norm& n) {
            return layers::layerNorm(x, n.weight, n.bias, c.normEps);
        };
        see("attention.input", input);
        const at::Tensor attended = selfAttention(
            project(input, m_q, hooks), project(input, m_k, hooks), project(input, m_v, hooks), c, p, hooks.observe);
        const at::Tensor out = project(attended, m_attnOut, hooks);
        see("attention.output", out);
        const at::Tensor x = norm(input + out, m_attnNorm);
        see("mlp.input", x);
        const at::Tensor up = project(x, m_up, hooks);
        see("mlp.activation_input", up);
        const at::Tensor activated = layers::activation(up, c.activation);
        see("mlp.activation_output", activated);
        const at::Tensor down = project(activated, m_down, hooks);
        see("mlp.output", down);
        return norm(x + down, m_outNorm);
    }

private:
    const ModelConfig& m_config;
    Projection m_q, m_k, m_v, m_attnOut, m_up, m_down;
    Norm m_attnNorm, m_outNorm;
};

// "bert." / "roberta." (a *ForMaskedLM checkpoint) or "" (a bare encoder).
std::string detectPrefix(const Checkpoint& checkpoint, const std::string& modelType)
{
    const std::string own = modelType + ".";
    const std::string other = modelType == "roberta" ? "bert." : "roberta.";
    for (const std::string& p : { own, other, std::string() }) {
        if (checkpoint.find(p + "embeddings.word_embeddings.weight"))
            return p;
    }
    throw FormatError(
        "the model has no " + own + "embeddings.word_embeddings.weight, which a " + modelType + " model needs",
        ErrorContext { checkpoint.path().string(), own + "embeddings.word_embeddings.weight", {} });
}

} // namespace

BertBlocks::BertBlocks(const Checkpoint& checkpoint, const ModelConfig& config)
    : ModelBlocks(checkpoint, config)
{
    // The head first: without it there is nothing to score.
    if (checkpoint.find("cls.predictions.transform.dense.weight"))
        m_head = "cls.predictions.";
    else if (checkpoint.find("lm_head.dense.weight"))
        m_head = "lm_head.";
    else
        throw FormatError("masked-LM scoring needs the model's masked-LM head (cls.predictions.* for BERT, "
                          "lm_head.* for RoBERTa), which this checkpoint does not have",
            ErrorContext { checkpoint.path().string(), {}, {} });
    m_embeddings = detectPrefix(checkpoint, config.modelType) + "embeddings.";
    const WeightLoader w(m_checkpoint, m_config);
    const std::int64_t h = config.hidden;
    if (config.typeVocabSize > 0)
        m_type = w.tensor(m_embeddings + "token_type_embeddings.weight", { config.typeVocabSize, h })[0].clone();
    const Norm norm = loadNorm(w, m_config, m_embeddings + "LayerNorm");
    m_normWeight = norm.weight;
    m_normBias = norm.bias;
    const TensorInfo* positions = checkpoint.find(m_embeddings + "position_embeddings.weight");
    if (!positions || positions->shape != std::vector<std::int64_t> { config.maxPositions + config.positionOffset, h })
        w.tensor(m_embeddings + "position_embeddings.weight", { config.maxPositions + config.positionOffset, h });
    m_embeddingTensors = { m_embeddings + "word_embeddings.weight", m_embeddings + "position_embeddings.weight" };
}

std::string BertBlocks::layerName(std::int64_t layer) const
{
    return m_embeddings.substr(0, m_embeddings.size() - std::string("embeddings.").size()) + "encoder.layer."
        + std::to_string(layer);
}

at::Tensor BertBlocks::positions(const std::vector<std::int64_t>& tokens) const
{
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (m_config.positionOffset == 0)
        return at::arange(n, at::kLong);
    // RoBERTa: non-padding tokens count from padding_idx + 1, padding stays at padding_idx.
    const at::Tensor notPad = at::tensor(tokens, at::kLong).ne(m_config.padToken).to(at::kLong);
    return at::cumsum(notPad, 0) * notPad + (m_config.positionOffset - 1);
}

at::Tensor BertBlocks::embed(const std::vector<std::int64_t>& tokens, std::int64_t) const
{
    checkTokens(tokens);
    const ModelConfig& c = m_config;
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (n > c.maxPositions)
        throw UsageError(std::to_string(n) + " tokens exceed the model's " + std::to_string(c.maxPositions)
            + " positions; use a shorter sequence");
    at::Tensor x = rows(m_embeddings + "word_embeddings.weight", at::tensor(tokens, at::kLong))
        + rows(m_embeddings + "position_embeddings.weight", positions(tokens));
    if (m_type.defined())
        x = x + m_type;
    return layers::layerNorm(x, m_normWeight, m_normBias, c.normEps);
}

std::unique_ptr<Block> BertBlocks::loadLayer(std::int64_t layer, const WeightTransform& transform) const
{
    const WeightLoader w(m_checkpoint, m_config, transform);
    return std::make_unique<BertLayer>(w, m_config, layerName(layer));
}

std::vector<std::string> BertBlocks::headModules() const
{
    return { m_head + (m_head == "lm_head." ? "dense" : "transform.dense"), m_head + "decoder" };
}

std::unique_ptr<Head> BertBlocks::loadHead(const WeightTransform& transform) const
{
    const WeightLoader w(m_checkpoint, m_config, transform);
    const ModelConfig& c = m_config;
    const std::int64_t h = c.hidden;
    const bool cls = m_head == "cls.predictions.";
    const Projection dense = loadProjection(w, headModules()[0], h, h);
    const Norm norm = loadNorm(w, c, m_head + (cls ? "transform.LayerNorm" : "layer_norm"));
    // BertPredictionHeadTransform uses hidden_act; RobertaLMHead exact GELU whatever hidden_act says.
    const std::string activation = cls ? c.activation : "gelu";
    const std::string decoder = m_head + "decoder";
    const bool stored = w.has(decoder + ".weight");
    const at::Tensor bias = w.has(m_head + "bias") || !w.has(decoder + ".bias")
        ? w.tensor(m_head + "bias", { c.vocabSize })
        : w.tensor(decoder + ".bias", { c.vocabSize });
    const double eps = c.normEps;
    return std::make_unique<VocabHead>(m_checkpoint, w, decoder,
        stored ? decoder + ".weight" : m_embeddings + "word_embeddings.weight", stored && w.transforms(), c,
        [dense, norm, activation, eps](const at::Tensor& x, const BlockHooks& hooks) {
            return layers::layerNorm(layers::activation(project(x, dense, hooks), activation), norm.weight,
                norm.bias, eps);
        },
        bias);
}

} // namespace qs
