// SPDX-License-Identifier: GPL-3.0-or-later
#include "generated_models.h"

#include "test_support.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <vector>

namespace qs::test {
namespace {

class Writer
{
public:
    explicit Writer(const GeneratedModel& m)
        : m_model(m)
        , m_seed(m.seed * 1000)
    {
    }

    void add(const std::string& name, std::vector<std::int64_t> shape, float scale = 0.05F, float offset = 0,
        const std::vector<std::int64_t>& outliers = {}, float outlierFactor = 1)
    {
        if (m_model.omit.count(name))
            return;
        std::size_t n = 1;
        for (auto d : shape)
            n *= static_cast<std::size_t>(d);
        std::vector<float> v = randomNormal(n, ++m_seed);
        for (float& x : v)
            x = offset + scale * x;
        if (m_model.spiked.count(name) && shape.size() == 2) {
            const auto rows = static_cast<std::size_t>(shape[0]), cols = static_cast<std::size_t>(shape[1]);
            for (std::size_t r = 0; r < rows; ++r)
                v[r * cols + (7 * r) % cols] *= 30.0F;
        }
        for (std::int64_t c : outliers) {
            if (static_cast<std::size_t>(c) < v.size())
                v[static_cast<std::size_t>(c)] *= outlierFactor;
        }
        m_tensors.push_back(m_model.bf16 ? bf16Tensor(name, std::move(shape), v) : f32Tensor(name, std::move(shape), v));
    }
    void norm(const std::string& name, std::int64_t h) { add(name, { h }, 0.1F, 1.0F); }
    // A layer's norm, with the model's outlier channels.
    void layerNorm(const std::string& name, std::int64_t h)
    {
        if (m_model.normOutliers > 0)
            add(name, { h }, 0.1F, 1.0F, { 3, 17, 40 }, m_model.normOutliers);
        else
            add(name, { h }, 0.1F, 1.0F);
    }
    void bias(const std::string& name, std::int64_t n) { add(name, { n }, 0.02F); }

    const std::vector<RawTensor>& tensors() const { return m_tensors; }

private:
    const GeneratedModel& m_model;
    std::uint64_t m_seed;
    std::vector<RawTensor> m_tensors;
};

nlohmann::json llama(const GeneratedModel& m, Writer& w)
{
    const std::int64_t h = m.hidden, kv = m.hidden / m.heads * m.kvHeads;
    w.add("model.embed_tokens.weight", { m.vocab, h }, 0.5F);
    for (int i = 0; i < m.layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        w.layerNorm(p + "input_layernorm.weight", h);
        w.add(p + "self_attn.q_proj.weight", { h, h });
        w.add(p + "self_attn.k_proj.weight", { kv, h });
        w.add(p + "self_attn.v_proj.weight", { kv, h });
        w.add(p + "self_attn.o_proj.weight", { h, h });
        w.layerNorm(p + "post_attention_layernorm.weight", h);
        w.add(p + "mlp.gate_proj.weight", { m.intermediate, h });
        w.add(p + "mlp.up_proj.weight", { m.intermediate, h });
        w.add(p + "mlp.down_proj.weight", { h, m.intermediate });
    }
    w.norm("model.norm.weight", h);
    if (!m.tied)
        w.add("lm_head.weight", { m.vocab, h }, 0.2F);
    return { { "model_type", "llama" }, { "hidden_size", h }, { "intermediate_size", m.intermediate },
        { "num_hidden_layers", m.layers }, { "num_attention_heads", m.heads }, { "num_key_value_heads", m.kvHeads },
        { "vocab_size", m.vocab }, { "max_position_embeddings", 512 }, { "rms_norm_eps", 1e-5 },
        { "rope_theta", 10000.0 }, { "tie_word_embeddings", m.tied } };
}

nlohmann::json gpt2(const GeneratedModel& m, Writer& w)
{
    const std::int64_t h = m.hidden;
    w.add("transformer.wte.weight", { m.vocab, h }, 0.5F);
    w.add("transformer.wpe.weight", { 512, h }, 0.1F);
    for (int i = 0; i < m.layers; ++i) {
        const std::string p = "transformer.h." + std::to_string(i) + ".";
        w.layerNorm(p + "ln_1.weight", h);
        w.bias(p + "ln_1.bias", h);
        w.add(p + "attn.c_attn.weight", { h, 3 * h }); // Conv1D: [in, out]
        w.bias(p + "attn.c_attn.bias", 3 * h);
        w.add(p + "attn.c_proj.weight", { h, h });
        w.bias(p + "attn.c_proj.bias", h);
        w.layerNorm(p + "ln_2.weight", h);
        w.bias(p + "ln_2.bias", h);
        w.add(p + "mlp.c_fc.weight", { h, m.intermediate });
        w.bias(p + "mlp.c_fc.bias", m.intermediate);
        w.add(p + "mlp.c_proj.weight", { m.intermediate, h });
        w.bias(p + "mlp.c_proj.bias", h);
    }
    w.norm("transformer.ln_f.weight", h);
    w.bias("transformer.ln_f.bias", h);
    return { { "model_type", "gpt2" }, { "n_embd", h }, { "n_inner", m.intermediate }, { "n_layer", m.layers },
        { "n_head", m.heads }, { "vocab_size", m.vocab }, { "n_positions", 512 },
        { "activation_function", "gelu_new" }, { "layer_norm_epsilon", 1e-5 } };
}

nlohmann::json bert(const GeneratedModel& m, Writer& w)
{
    const std::int64_t h = m.hidden;
    const std::string e = "bert.embeddings.";
    w.add(e + "word_embeddings.weight", { m.vocab, h }, 0.5F);
    w.add(e + "position_embeddings.weight", { 512, h }, 0.1F);
    w.add(e + "token_type_embeddings.weight", { 2, h }, 0.1F);
    w.norm(e + "LayerNorm.weight", h);
    w.bias(e + "LayerNorm.bias", h);
    auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in) {
        w.add(name + ".weight", { out, in });
        w.bias(name + ".bias", out);
    };
    for (int i = 0; i < m.layers; ++i) {
        const std::string p = "bert.encoder.layer." + std::to_string(i) + ".";
        linear(p + "attention.self.query", h, h);
        linear(p + "attention.self.key", h, h);
        linear(p + "attention.self.value", h, h);
        linear(p + "attention.output.dense", h, h);
        w.norm(p + "attention.output.LayerNorm.weight", h);
        w.bias(p + "attention.output.LayerNorm.bias", h);
        linear(p + "intermediate.dense", m.intermediate, h);
        linear(p + "output.dense", h, m.intermediate);
        w.norm(p + "output.LayerNorm.weight", h);
        w.bias(p + "output.LayerNorm.bias", h);
    }
    linear("cls.predictions.transform.dense", h, h);
    w.norm("cls.predictions.transform.LayerNorm.weight", h);
    w.bias("cls.predictions.transform.LayerNorm.bias", h);
    w.bias("cls.predictions.bias", m.vocab);
    return { { "model_type", "bert" }, { "hidden_size", h }, { "intermediate_size", m.intermediate },
        { "num_hidden_layers", m.layers }, { "num_attention_heads", m.heads }, { "vocab_size", m.vocab },
        { "max_position_embeddings", 512 }, { "type_vocab_size", 2 }, { "hidden_act", "gelu" },
        { "layer_norm_eps", 1e-12 }, { "pad_token_id", 0 } };
}

} // namespace

void writeGeneratedModel(const std::filesystem::path& folder, const GeneratedModel& model)
{
    std::filesystem::create_directories(folder);
    Writer w(model);
    const nlohmann::json config
        = model.family == "gpt2" ? gpt2(model, w) : model.family == "bert" ? bert(model, w) : llama(model, w);
    std::ofstream(folder / "config.json") << config.dump(2);
    writeSafetensors(folder / "model.safetensors", w.tensors());
}

std::filesystem::path generatedModelIn(const std::filesystem::path& folder, const GeneratedModel& model)
{
    if (!std::filesystem::exists(folder))
        writeGeneratedModel(folder, model);
    return folder;
}

} // namespace qs::test
