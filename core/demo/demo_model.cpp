// SPDX-License-Identifier: GPL-3.0-or-later
#include "demo/demo_model.h"

#include "io/atomic_file.h"
#include "io/safetensors_writer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace qs {
namespace fs = std::filesystem;
namespace {

// splitmix64: tiny, fast and identical on every platform, unlike std:: distributions.
class Random
{
public:
    explicit Random(std::uint64_t seed)
        : m_state(seed)
    { }

    std::uint64_t next()
    {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; } // [0, 1)
    double normal()
    {
        const double u1 = 1.0 - uniform();
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }

private:
    std::uint64_t m_state;
};

std::uint64_t seedFor(const std::string& name)
{
    std::uint64_t h = 1469598103934665603ULL; // FNV-1a of the name, so each tensor is independent
    for (unsigned char c : name)
        h = (h ^ c) * 1099511628211ULL;
    return h;
}

std::vector<float> gaussian(Random& rng, std::int64_t rows, std::int64_t cols, double std)
{
    std::vector<float> v(static_cast<std::size_t>(rows * cols));
    for (auto& x : v)
        x = static_cast<float>(rng.normal() * std);
    return v;
}

std::vector<float> withOutlierColumns(std::vector<float> v, std::int64_t rows, std::int64_t cols)
{
    for (std::int64_t r = 0; r < rows; ++r) {
        for (std::size_t k = 0; k < DemoModel::kOutlierChannels.size(); ++k) {
            const auto c = DemoModel::kOutlierChannels[k];
            v[static_cast<std::size_t>(r * cols + c)] *= 10.0f + 4.0f * static_cast<float>(k);
        }
    }
    return v;
}

std::vector<float> narrow(Random& rng, std::int64_t rows, std::int64_t cols)
{
    std::vector<float> v = gaussian(rng, rows, cols, 0.002);
    for (std::int64_t r = 0; r < rows; ++r) {
        const auto c = static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(cols));
        const double sign = rng.uniform() < 0.5 ? -1.0 : 1.0;
        v[static_cast<std::size_t>(r * cols + c)] = static_cast<float>(sign * (0.15 + 0.15 * rng.uniform()));
    }
    return v;
}

std::vector<float> normGains(Random& rng, std::int64_t n)
{
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v)
        x = static_cast<float>(1.0 + 0.05 * rng.normal());
    return v;
}

struct DemoTensor
{
    std::string name;
    std::vector<std::int64_t> shape;
    std::function<std::vector<float>(Random&)> make;
};

std::vector<DemoTensor> demoTensors()
{
    using M = DemoModel;
    const std::int64_t h = M::kHiddenSize;
    const std::int64_t kv = h / M::kHeads * M::kKvHeads;
    const std::int64_t ff = M::kIntermediateSize;
    const double residualStd = 0.02 / std::sqrt(2.0 * M::kLayers);
    auto linear = [](std::int64_t out, std::int64_t in, double std, bool outliers) {
        return [=](Random& rng) {
            auto v = gaussian(rng, out, in, std);
            return outliers ? withOutlierColumns(std::move(v), out, in) : v;
        };
    };

    std::vector<DemoTensor> t;
    t.push_back({ "lm_head.weight", { M::kVocab, h }, linear(M::kVocab, h, 0.02, false) });
    t.push_back({ "model.embed_tokens.weight", { M::kVocab, h }, linear(M::kVocab, h, 0.02, false) });
    for (int l = 0; l < M::kLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        const bool outliers = l == M::kOutlierLayers[0] || l == M::kOutlierLayers[1];
        t.push_back({ p + "input_layernorm.weight", { h }, [=](Random& r) { return normGains(r, h); } });
        if (p + "mlp.down_proj" == M::kNarrowModule)
            t.push_back({ p + "mlp.down_proj.weight", { h, ff }, [=](Random& r) { return narrow(r, h, ff); } });
        else
            t.push_back({ p + "mlp.down_proj.weight", { h, ff }, linear(h, ff, residualStd, false) });
        t.push_back({ p + "mlp.gate_proj.weight", { ff, h }, linear(ff, h, 0.02, outliers) });
        t.push_back({ p + "mlp.up_proj.weight", { ff, h }, linear(ff, h, 0.02, outliers) });
        t.push_back({ p + "post_attention_layernorm.weight", { h }, [=](Random& r) { return normGains(r, h); } });
        t.push_back({ p + "self_attn.k_proj.weight", { kv, h }, linear(kv, h, 0.02, outliers) });
        t.push_back({ p + "self_attn.o_proj.weight", { h, h }, linear(h, h, residualStd, false) });
        t.push_back({ p + "self_attn.q_proj.weight", { h, h }, linear(h, h, 0.02, outliers) });
        t.push_back({ p + "self_attn.v_proj.weight", { kv, h }, linear(kv, h, 0.02, outliers) });
    }
    t.push_back({ "model.norm.weight", { h }, [=](Random& r) { return normGains(r, h); } });
    return t;
}

nlohmann::ordered_json demoConfig()
{
    using M = DemoModel;
    nlohmann::ordered_json c;
    c["architectures"] = { "LlamaForCausalLM" };
    c["model_type"] = "llama";
    c["hidden_size"] = M::kHiddenSize;
    c["intermediate_size"] = M::kIntermediateSize;
    c["num_hidden_layers"] = M::kLayers;
    c["num_attention_heads"] = M::kHeads;
    c["num_key_value_heads"] = M::kKvHeads;
    c["vocab_size"] = M::kVocab;
    c["max_position_embeddings"] = 512;
    c["hidden_act"] = "silu";
    c["rms_norm_eps"] = 1e-5;
    c["rope_theta"] = 10000.0;
    c["tie_word_embeddings"] = false;
    c["bos_token_id"] = 1;
    c["eos_token_id"] = 2;
    c["torch_dtype"] = "bfloat16";
    c["quantscope_demo"] = { { "version", M::kVersion },
        { "note", "synthetic weights written by QuantScope for demonstrations and tests; not a trained model" } };
    return c;
}

} // namespace

void writeDemoModel(const fs::path& directory, bool overwrite)
{
    AtomicOutputDir output(directory, overwrite);
    writeFileAtomically(output.staging() / "config.json", demoConfig().dump(2) + "\n");

    const auto tensors = demoTensors();
    std::vector<TensorSpec> specs;
    specs.reserve(tensors.size());
    for (const auto& t : tensors)
        specs.push_back({ t.name, DType::BF16, t.shape });
    SafetensorsWriter writer(output.staging() / "model.safetensors", specs);
    for (const auto& t : tensors) {
        Random rng(seedFor(t.name));
        std::vector<float> values = t.make(rng);
        const at::Tensor bf16 = at::from_blob(values.data(), t.shape, at::TensorOptions().dtype(at::kFloat))
                                    .to(at::kBFloat16)
                                    .contiguous();
        writer.write(t.name, bf16.data_ptr(), static_cast<std::uint64_t>(bf16.numel()) * 2);
    }
    writer.finish();
    output.commit();
}

bool isCurrentDemoModel(const fs::path& directory)
{
    std::ifstream in(directory / "config.json");
    if (!in || !fs::exists(directory / "model.safetensors"))
        return false;
    try {
        const auto config = nlohmann::json::parse(in);
        return config.at("quantscope_demo").at("version").get<int>() == DemoModel::kVersion;
    } catch (const nlohmann::json::exception&) {
        return false;
    }
}

} // namespace qs
