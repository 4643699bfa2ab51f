#include "runtime/model_config.h"

#include "error.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace qs {
namespace {

std::int64_t integer(const nlohmann::json& c, const char* key, std::int64_t fallback = -1)
{
    const auto it = c.find(key);
    if (it == c.end() || it->is_null()) {
        if (fallback >= 0)
            return fallback;
        throw FormatError(std::string("config.json has no \"") + key + "\"");
    }
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
        throw FormatError(std::string("config.json: \"") + key + "\" is not a non-negative integer");
    return it->get<std::int64_t>();
}

double number(const nlohmann::json& c, const char* key, double fallback)
{
    const auto it = c.find(key);
    if (it == c.end() || it->is_null())
        return fallback;
    if (!it->is_number())
        throw FormatError(std::string("config.json: \"") + key + "\" is not a number");
    return it->get<double>();
}

RopeScaling ropeScalingOf(const nlohmann::json& c)
{
    RopeScaling r;
    const auto it = c.find("rope_scaling");
    if (it == c.end() || it->is_null())
        return r;
    if (!it->is_object())
        throw FormatError("config.json: \"rope_scaling\" is not an object");
    const nlohmann::json& s = *it;
    std::string type = s.value("rope_type", std::string());
    if (type.empty())
        type = s.value("type", std::string());
    if (type == "default" || type.empty())
        return r;
    if (type != "linear" && type != "llama3")
        throw UsageError("rope_scaling type '" + type + "' is not supported (linear and llama3 are)");
    r.type = type;
    r.factor = number(s, "factor", 1);
    r.lowFreqFactor = number(s, "low_freq_factor", 1);
    r.highFreqFactor = number(s, "high_freq_factor", 4);
    r.originalMaxPositions = number(s, "original_max_position_embeddings", 8192);
    if (!(r.factor > 0) || (type == "llama3" && !(r.highFreqFactor > r.lowFreqFactor)))
        throw FormatError("config.json: rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor");
    return r;
}

} // namespace

double ModelConfig::attentionScale() const
{
    return attentionMultiplier > 0 ? attentionMultiplier : 1.0 / std::sqrt(static_cast<double>(headDim));
}

ModelConfig modelConfigFromJson(const nlohmann::json& c)
{
    if (!c.is_object())
        throw FormatError("config.json is not an object");
    ModelConfig m;
    m.modelType = c.value("model_type", std::string());
    if (m.modelType != "llama" && m.modelType != "mistral" && m.modelType != "qwen2" && m.modelType != "granite")
        throw UsageError("running model type '" + (m.modelType.empty() ? std::string("(none)") : m.modelType)
            + "' is not supported yet; the Llama family (llama, mistral, qwen2, granite) is");
    m.family = ModelFamily::Llama;
    m.vocabSize = integer(c, "vocab_size");
    m.hidden = integer(c, "hidden_size");
    m.layers = integer(c, "num_hidden_layers");
    m.heads = integer(c, "num_attention_heads");
    m.kvHeads = integer(c, "num_key_value_heads", m.heads);
    m.intermediate = integer(c, "intermediate_size");
    m.maxPositions = integer(c, "max_position_embeddings", 2048);
    if (m.heads == 0 || m.kvHeads == 0 || m.heads % m.kvHeads != 0)
        throw FormatError("config.json: num_key_value_heads must divide num_attention_heads");
    m.headDim = integer(c, "head_dim", m.hidden % std::max<std::int64_t>(m.heads, 1) == 0 ? m.hidden / m.heads : 0);
    if (m.headDim == 0 || m.headDim % 2 != 0)
        throw FormatError("config.json: the head size must be even and non-zero");
    m.normEps = number(c, "rms_norm_eps", 1e-6);
    m.ropeTheta = number(c, "rope_theta", 10000);
    m.ropeScaling = ropeScalingOf(c);
    m.ropeInterleaved = c.value("quantscope_rope_layout", std::string()) == "interleaved";
    m.tieEmbeddings = c.value("tie_word_embeddings", false);
    m.qkvBias = m.modelType == "qwen2" || c.value("attention_bias", false);
    if (m.modelType == "granite") {
        m.embeddingMultiplier = number(c, "embedding_multiplier", 1);
        m.attentionMultiplier = number(c, "attention_multiplier", 0);
        m.residualMultiplier = number(c, "residual_multiplier", 1);
        m.logitsScaling = number(c, "logits_scaling", 1);
    }
    if (c.contains("bos_token_id") && c["bos_token_id"].is_number_integer())
        m.bosToken = c["bos_token_id"].get<int>();
    if (c.contains("eos_token_id") && c["eos_token_id"].is_number_integer())
        m.eosToken = c["eos_token_id"].get<int>();
    return m;
}

} // namespace qs
