// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/model_config.h"

#include "error.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <utility>
#include <vector>

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

bool flag(const nlohmann::json& c, const char* key, bool fallback)
{
    const auto it = c.find(key);
    if (it == c.end() || it->is_null())
        return fallback;
    if (!it->is_boolean())
        throw FormatError(std::string("config: \"") + key + "\" is not true or false");
    return it->get<bool>();
}

std::string text(const nlohmann::json& c, const char* key, const std::string& fallback)
{
    const auto it = c.find(key);
    if (it == c.end() || it->is_null())
        return fallback;
    if (!it->is_string())
        throw FormatError(std::string("config: \"") + key + "\" is not a string");
    return it->get<std::string>();
}

// A token id from the config, or `fallback` when it is absent or outside the vocabulary.
int tokenId(const nlohmann::json& c, const char* key, int fallback, std::int64_t vocab)
{
    const auto it = c.find(key);
    if (it == c.end() || !it->is_number_integer())
        return fallback;
    const std::int64_t id = it->get<std::int64_t>();
    return id >= 0 && id < vocab ? static_cast<int>(id) : fallback;
}

void checkHeads(const ModelConfig& m)
{
    if (m.hidden == 0 || m.heads == 0 || m.hidden % m.heads != 0)
        throw FormatError("config: the number of attention heads must divide the hidden size");
    if (m.kvHeads == 0 || m.heads % m.kvHeads != 0)
        throw FormatError("config: the number of key/value heads must divide the number of heads");
}

ModelConfig llamaConfig(const nlohmann::json& c)
{
    ModelConfig m;
    m.modelType = c.value("model_type", std::string());
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

NormKind forkNorm(const nlohmann::json& c, const char* key)
{
    const std::string v = text(c, key, "rmsnorm");
    if (v == "rmsnorm")
        return NormKind::RmsNorm;
    if (v == "layernorm")
        return NormKind::LayerNorm;
    throw UsageError(std::string("nanoGPT option ") + key + " = '" + v + "' is not supported (rmsnorm, layernorm are)");
}

// The ReaLLMASIC fork's options that change the forward pass away from its default
// architecture: each must be absent or hold the default value.
void refuseForkOptions(const nlohmann::json& c)
{
    static const std::vector<std::pair<const char*, nlohmann::json>> defaults = {
        { "use_rotary_embeddings", false },
        { "use_fire_embeddings", false },
        { "attention_variant", "causal" },
        { "softmax_variant_attn", "softmax" },
        { "mlp_variant", "mlp" },
        { "mlp_down_projs", 1 },
        { "use_pre_ln", true },
        { "use_post_ln", false },
        { "use_peri_ln", false },
        { "use_parallel_mlp", false },
        { "use_qk_norm", false },
        { "use_qk_norm_scale", false },
        { "use_flash_lobo", false },
        { "attn_logit_softcapping", nullptr },
        { "final_logit_softcapping", nullptr },
        { "window_size", nullptr },
        { "gate", false },
        { "use_moe", false },
        { "n_lpe", 0 },
        { "n_embd_wte", nullptr },
        { "use_embedding_scale", false },
        { "use_ln_f_input_mixer", false },
        { "use_lsv", false },
        { "apply_vector_at_layer_idx", nullptr },
        { "multicontext", false },
        { "multidataset_wte", false },
        { "n_qk_head_dim", nullptr },
        { "n_v_head_dim", nullptr },
        { "n_cproj", nullptr },
        { "use_concat_heads", false },
        { "use_attn_resid_scaling", false },
        { "use_mlp_resid_scaling", false },
        { "use_attn_resid_const", false },
        { "use_mlp_resid_const", false },
        { "attention_list", nlohmann::json::array() },
        { "n_head_layerlist", nlohmann::json::array() },
        { "n_qk_head_dim_layerlist", nlohmann::json::array() },
        { "n_v_head_dim_layerlist", nlohmann::json::array() },
        { "mlp_size_layerlist", nlohmann::json::array() },
    };
    for (const auto& [key, value] : defaults) {
        const auto it = c.find(key);
        if (it == c.end() || *it == value || (it->is_null() && value.is_null()))
            continue;
        throw UsageError(std::string("nanoGPT option ") + key + " = " + it->dump()
            + " is not supported by the native runtime (only the fork's default architecture is)");
    }
    for (const char* key : { "linear_variant_attn", "linear_variant_mlp", "linear_variant_q", "linear_variant_k",
             "linear_variant_v", "linear_variant_attn_proj", "linear_variant_mlp_up", "linear_variant_mlp_down" }) {
        const std::string v = text(c, key, "linear");
        if (v != "linear" && v != "quantized_linear") // quantized_linear keeps its float weight
            throw UsageError(std::string("nanoGPT option ") + key + " = '" + v + "' is not supported");
    }
}

// Hugging Face GPT-2.
ModelConfig gpt2Config(const nlohmann::json& c)
{
    ModelConfig m;
    m.modelType = "gpt2";
    m.family = ModelFamily::Gpt2;
    m.vocabSize = integer(c, "vocab_size");
    m.hidden = integer(c, "n_embd");
    m.layers = integer(c, "n_layer");
    m.heads = integer(c, "n_head");
    m.kvHeads = m.heads;
    checkHeads(m);
    m.headDim = m.hidden / m.heads;
    m.intermediate = integer(c, "n_inner", 4 * m.hidden); // null: 4 * n_embd
    m.maxPositions = integer(c, "n_positions", 1024);
    m.norm = m.finalNorm = NormKind::LayerNorm;
    m.normBias = m.linearBias = m.conv1dWeights = true;
    m.normEps = number(c, "layer_norm_epsilon", 1e-5);
    m.activation = text(c, "activation_function", "gelu_new");
    checkActivation(m.activation);
    m.tieEmbeddings = flag(c, "tie_word_embeddings", true);
    if (!flag(c, "scale_attn_weights", true))
        m.attentionMultiplier = 1; // scores not divided by sqrt(head_dim)
    if (flag(c, "scale_attn_by_inverse_layer_idx", false))
        throw UsageError("GPT-2 option scale_attn_by_inverse_layer_idx is not supported by the native runtime");
    if (flag(c, "add_cross_attention", false))
        throw UsageError("GPT-2 option add_cross_attention is not supported by the native runtime");
    // reorder_and_upcast_attn only changes the precision of fp16 runs: the same in float32.
    m.bosToken = tokenId(c, "bos_token_id", 0, m.vocabSize);
    m.eosToken = tokenId(c, "eos_token_id", m.bosToken, m.vocabSize);
    return m;
}

// nanoGPT's model_args: karpathy's (n_layer, n_head, n_embd, block_size, bias, vocab_size,
// dropout) or the ReaLLMASIC fork's (many more; recognised by its keys).
ModelConfig nanogptConfig(const nlohmann::json& c)
{
    ModelConfig m;
    m.modelType = "nanogpt";
    m.family = ModelFamily::Gpt2;
    m.vocabSize = integer(c, "vocab_size", 50304);
    m.hidden = integer(c, "n_embd");
    m.layers = integer(c, "n_layer");
    m.heads = integer(c, "n_head");
    m.maxPositions = integer(c, "block_size", 1024);
    m.tieEmbeddings = true;
    m.activation = "gelu"; // nn.GELU(): the exact erf form
    m.normEps = 1e-5;
    const bool fork = c.contains("n_kv_group") || c.contains("norm_variant_attn") || c.contains("activation_variant")
        || c.contains("attention_variant") || c.contains("use_abs_pos_embeddings");
    if (!fork) {
        m.kvHeads = m.heads;
        checkHeads(m);
        m.linearBias = m.normBias = flag(c, "bias", true);
        m.norm = m.finalNorm = NormKind::LayerNorm;
        m.intermediate = 4 * m.hidden;
    } else {
        refuseForkOptions(c);
        m.kvHeads = integer(c, "n_kv_group", m.heads);
        checkHeads(m);
        m.separateQkv = true;
        m.linearBias = m.normBias = flag(c, "bias", false);
        m.norm = forkNorm(c, "norm_variant_attn");
        m.finalNorm = forkNorm(c, "norm_variant_output");
        m.absolutePositions = flag(c, "use_abs_pos_embeddings", true);
        m.intermediate = integer(c, "mlp_size", integer(c, "mlp_expansion_factor", 4) * m.hidden);
        const std::string act = text(c, "activation_variant", "gelu");
        if (act != "gelu" && act != "relu" && act != "silu")
            throw UsageError(
                "nanoGPT option activation_variant = '" + act + "' is not supported (gelu, relu, silu are)");
        m.activation = act;
        m.mlpInputOffset = number(c, "mlp_x_offset", 0);
        m.mlpOutputOffset = number(c, "mlp_y_offset", 0);
    }
    m.headDim = m.hidden / m.heads;
    // nanoGPT has no sequence markers: generation starts from token 0 (a character vocabulary's
    // "\n", as sample.py starts) and stops only at GPT-2's <|endoftext|> when the vocabulary has it.
    m.bosToken = m.vocabSize > 50256 ? 50256 : 0;
    m.eosToken = m.vocabSize > 50256 ? 50256 : -1;
    return m;
}

// Hugging Face BERT and RoBERTa.
ModelConfig bertConfig(const nlohmann::json& c)
{
    ModelConfig m;
    m.modelType = c.value("model_type", std::string());
    m.family = ModelFamily::Bert;
    m.vocabSize = integer(c, "vocab_size");
    m.hidden = integer(c, "hidden_size");
    m.layers = integer(c, "num_hidden_layers");
    m.heads = integer(c, "num_attention_heads");
    m.kvHeads = m.heads;
    checkHeads(m);
    m.headDim = m.hidden / m.heads;
    m.intermediate = integer(c, "intermediate_size");
    m.norm = m.finalNorm = NormKind::LayerNorm;
    m.normBias = m.linearBias = true;
    m.normEps = number(c, "layer_norm_eps", 1e-12);
    m.activation = text(c, "hidden_act", "gelu");
    checkActivation(m.activation);
    m.typeVocabSize = integer(c, "type_vocab_size", 2);
    const std::string positions = text(c, "position_embedding_type", "absolute");
    if (positions != "absolute")
        throw UsageError("position_embedding_type '" + positions + "' is not supported (absolute is)");
    if (flag(c, "is_decoder", false) || flag(c, "add_cross_attention", false))
        throw UsageError("a " + m.modelType + " decoder (is_decoder, add_cross_attention) is not supported");
    m.padToken = tokenId(c, "pad_token_id", m.modelType == "roberta" ? 1 : 0, m.vocabSize);
    m.positionOffset = m.modelType == "roberta" ? m.padToken + 1 : 0;
    const std::int64_t table = integer(c, "max_position_embeddings", 512);
    if (table <= m.positionOffset)
        throw FormatError("config: max_position_embeddings leaves no position after the RoBERTa offset");
    m.maxPositions = table - m.positionOffset;
    m.maskToken = tokenId(c, "mask_token_id", -1, m.vocabSize);
    m.bosToken = tokenId(c, "bos_token_id", 0, m.vocabSize);
    m.eosToken = tokenId(c, "eos_token_id", m.bosToken, m.vocabSize);
    return m;
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
    const std::string type = c.value("model_type", std::string());
    if (type == "llama" || type == "mistral" || type == "qwen2" || type == "granite")
        return llamaConfig(c);
    if (type == "gpt2")
        return gpt2Config(c);
    if (type == "nanogpt")
        return nanogptConfig(c);
    if (type == "bert" || type == "roberta")
        return bertConfig(c);
    throw UsageError("running model type '" + (type.empty() ? std::string("(none)") : type)
        + "' is not supported; these are: llama, mistral, qwen2, granite, gpt2, nanogpt, bert, roberta");
}

void checkActivation(const std::string& name)
{
    for (const char* known : { "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish" }) {
        if (name == known)
            return;
    }
    throw UsageError("activation function '" + name
        + "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu are)");
}

} // namespace qs
