// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/gpt2_blocks.h"

#include "error.h"
#include "models/layers.h"
#include "models/self_attention.h"
#include "models/vocab_head.h"
#include "models/weight_loader.h"

#include <ATen/ATen.h>

namespace qs {
namespace {

using Norm = NormWeights;

Norm loadNorm(const WeightLoader& w, const ModelConfig& c, const std::string& module, NormKind kind)
{
    const std::int64_t h = c.hidden;
    Norm n;
    n.module = module;
    if (kind == NormKind::RmsNorm) {
        n.weight = w.tensor(module + ".gain", { h });
        return n;
    }
    n.weight = w.tensor(module + ".weight", { h });
    n.bias = c.normBias ? w.tensor(module + ".bias", { h }) : w.optional(module + ".bias", { h });
    return n;
}

at::Tensor normalize(const at::Tensor& x, const Norm& norm, NormKind kind, double eps)
{
    if (kind == NormKind::RmsNorm)
        return layers::rmsNorm(x, norm.weight, 0.0); // the fork's RMSNorm has no epsilon
    return layers::layerNorm(x, norm.weight, norm.bias, eps);
}

class Gpt2Layer final : public Block
{
public:
    Gpt2Layer(const WeightLoader& w, const ModelConfig& c, const std::string& name)
        : m_config(c)
    {
        m_name = name;
        const std::string p = name + ".";
        const std::int64_t h = c.hidden;
        const std::int64_t kv = c.kvHeads * c.headDim;
        // The fork names the norm parameter `gain` for RMSNorm; newer fork versions call the block
        // norms pre_ln_attn/pre_ln_mlp, older ones and everything else ln_1/ln_2.
        const std::string param = c.norm == NormKind::RmsNorm ? ".gain" : ".weight";
        const bool fork = w.has(p + "pre_ln_attn" + param);
        m_norm1 = loadNorm(w, c, p + (fork ? "pre_ln_attn" : "ln_1"), c.norm);
        m_norm2 = loadNorm(w, c, p + (fork ? "pre_ln_mlp" : "ln_2"), c.norm);
        if (c.separateQkv && !w.has(p + "attn.c_attn.weight")) {
            m_q = load(w, p + "attn.c_attn_q", h, h);
            m_k = load(w, p + "attn.c_attn_k", kv, h);
            m_v = load(w, p + "attn.c_attn_v", kv, h);
        } else {
            if (kv != h)
                throw FormatError("a fused c_attn needs as many key/value heads as heads",
                    ErrorContext { {}, p + "attn.c_attn.weight", {} });
            m_qkv = load(w, p + "attn.c_attn", 3 * h, h);
        }
        m_proj = load(w, p + "attn.c_proj", h, h);
        m_fc = load(w, p + "mlp.c_fc", c.intermediate, h);
        m_down = load(w, p + "mlp.c_proj", h, c.intermediate);
        const at::Tensor x = w.optional(p + "mlp.activation_x_offset", {});
        const at::Tensor y = w.optional(p + "mlp.activation_y_offset", {});
        m_inputOffset = x.defined() ? x.item<double>() : c.mlpInputOffset;
        m_outputOffset = y.defined() ? y.item<double>() : c.mlpOutputOffset;
        m_others = { m_norm1.weight, m_norm1.bias, m_norm2.weight, m_norm2.bias };
        m_tensors = w.read();
    }

    std::vector<const Projection*> projections() const override
    {
        if (m_qkv.weight.defined())
            return { &m_qkv, &m_proj, &m_fc, &m_down };
        return { &m_q, &m_k, &m_v, &m_proj, &m_fc, &m_down };
    }
    std::vector<const NormWeights*> smoothableNorms() const override { return { &m_norm1, &m_norm2 }; }

    at::Tensor forward(const at::Tensor& input, std::int64_t, const BlockHooks& hooks, KvCache* cache) const override
    {
        const ModelConfig& c = m_config;
        const std::string p = m_name + ".";
        auto see = [&](const char* kind, const at::Tensor& t) {
            if (hooks.observe)
                hooks.observe(p + kind, kind, t, true);
        };
        const std::int64_t h = c.hidden;
        const at::Tensor a = normalize(input, m_norm1, c.norm, c.normEps);
        see("attention.input", a);
        at::Tensor q, k, v;
        if (m_qkv.weight.defined()) {
            const at::Tensor qkv = project(a, m_qkv, hooks);
            q = qkv.slice(1, 0, h);
            k = qkv.slice(1, h, 2 * h);
            v = qkv.slice(1, 2 * h, 3 * h);
        } else {
            q = project(a, m_q, hooks);
            k = project(a, m_k, hooks);
            v = project(a, m_v, hooks);
        }
        const std::int64_t past = appendToCache(cache, k, v);
        const at::Tensor attended = selfAttention(q, k, v, c, p, hooks.observe, past);
        const at::Tensor out = project(attended, m_proj, hooks);
        see("attention.output", out);
        const at::Tensor x = input + out;

        const at::Tensor b = normalize(x, m_norm2, c.norm, c.normEps);
        see("mlp.input", b);
        const at::Tensor up = project(b, m_fc, hooks);
        see("mlp.activation_input", up);
        at::Tensor activated = layers::activation(m_inputOffset != 0 ? up - m_inputOffset : up, c.activation);
        if (m_outputOffset != 0)
            activated = activated - m_outputOffset;
        see("mlp.activation_output", activated);
        const at::Tensor mlp = project(activated, m_down, hooks);
        see("mlp.output", mlp);
        return x + mlp;
    }

private:
    Projection load(const WeightLoader& w, const std::string& module, std::int64_t out, std::int64_t in) const
    {
        Projection p;
        p.module = module;
        p.weight = m_config.conv1dWeights ? w.conv1d(module, in, out) : w.linear(module, out, in);
        p.bias = m_config.linearBias ? w.tensor(module + ".bias", { out }) : w.optional(module + ".bias", { out });
        return p;
    }

    const ModelConfig& m_config;
    Norm m_norm1, m_norm2;
    Projection m_qkv; // fused c_attn
    Projection m_q, m_k, m_v; // the fork's c_attn_q/k/v
    Projection m_proj, m_fc, m_down;
    double m_inputOffset = 0, m_outputOffset = 0;
};

} // namespace

Gpt2Blocks::Gpt2Blocks(const Checkpoint& checkpoint, const ModelConfig& config)
    : ModelBlocks(checkpoint, config)
{
    if (checkpoint.find("transformer.wte.weight"))
        m_prefix = "transformer.";
    else if (!checkpoint.find("wte.weight"))
        throw FormatError("the model has no token embedding transformer.wte.weight (or wte.weight), which a GPT-2 "
                          "or nanoGPT model needs",
            ErrorContext { checkpoint.path().string(), "transformer.wte.weight", {} });
    m_embeddingTensors = { m_prefix + "wte.weight" };
    if (config.absolutePositions)
        m_embeddingTensors.push_back(m_prefix + "wpe.weight");
}

std::string Gpt2Blocks::layerName(std::int64_t layer) const
{
    return m_prefix + "h." + std::to_string(layer);
}

at::Tensor Gpt2Blocks::embed(const std::vector<std::int64_t>& tokens, std::int64_t position) const
{
    checkTokens(tokens);
    const ModelConfig& c = m_config;
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (c.absolutePositions && position + n > c.maxPositions)
        throw UsageError(std::to_string(position + n) + " tokens exceed the model's " + std::to_string(c.maxPositions)
            + " positions; use a shorter sequence");
    at::Tensor x = rows(m_prefix + "wte.weight", at::tensor(tokens, at::kLong));
    if (c.absolutePositions) {
        const TensorInfo* wpe = m_checkpoint.find(m_prefix + "wpe.weight");
        if (!wpe || wpe->shape != std::vector<std::int64_t> { c.maxPositions, c.hidden })
            throw FormatError(std::string(wpe ? "shape does not fit the config" : "the model has no tensor")
                    + " (expected " + std::to_string(c.maxPositions) + "x" + std::to_string(c.hidden) + ")",
                ErrorContext { m_checkpoint.path().string(), m_prefix + "wpe.weight", {} });
        x = x + rows(m_prefix + "wpe.weight", at::arange(position, position + n, at::kLong));
    }
    return x;
}

std::unique_ptr<Block> Gpt2Blocks::loadLayer(std::int64_t layer, const WeightTransform& transform) const
{
    const WeightLoader w(m_checkpoint, m_config, transform);
    return std::make_unique<Gpt2Layer>(w, m_config, layerName(layer));
}

std::unique_ptr<Head> Gpt2Blocks::loadHead(const WeightTransform& transform) const
{
    const WeightLoader w(m_checkpoint, m_config, transform);
    std::string tensor = "lm_head.weight";
    bool transformed = w.transforms();
    if (!w.has(tensor)) {
        if (!m_config.tieEmbeddings)
            throw FormatError("the model has no lm_head.weight and does not tie its embeddings",
                ErrorContext { m_checkpoint.path().string(), "lm_head.weight", {} });
        tensor = m_prefix + "wte.weight"; // tied: left alone, as the exporters do
        transformed = false;
    }
    const Norm norm = loadNorm(w, m_config, m_prefix + "ln_f", m_config.finalNorm);
    const NormKind kind = m_config.finalNorm;
    const double eps = m_config.normEps;
    return std::make_unique<VocabHead>(m_checkpoint, w, "lm_head", tensor, transformed, m_config,
        [norm, kind, eps](const at::Tensor& x, const BlockHooks&) { return normalize(x, norm, kind, eps); });
}

} // namespace qs
