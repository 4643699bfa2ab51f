// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/llama_model.h"

#include "error.h"
#include "io/checkpoint.h"
#include "models/layers.h"
#include "models/self_attention.h"
#include "models/weight_loader.h"

#include <ATen/ATen.h>

#include <cmath>

namespace qs {
LlamaModel LlamaModel::load(const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform)
{
    LlamaModel m;
    m.m_config = config;
    const WeightLoader w(checkpoint, config, transform);
    const std::int64_t h = config.hidden;
    const std::int64_t q = config.heads * config.headDim;
    const std::int64_t kv = config.kvHeads * config.headDim;
    m.m_embed = w.tensor("model.embed_tokens.weight", { config.vocabSize, h });
    m.m_norm = w.tensor("model.norm.weight", { h });
    if (w.has("lm_head.weight"))
        m.m_head = w.linear("lm_head", config.vocabSize, h);
    else if (config.tieEmbeddings)
        m.m_head = m.m_embed; // tied: the exporters leave it alone, so does fake quantization
    else
        throw FormatError("the model has no lm_head.weight and does not tie its embeddings",
            ErrorContext { checkpoint.path().string(), "lm_head.weight", {} });
    for (std::int64_t i = 0; i < config.layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        Layer l;
        l.inputNorm = w.tensor(p + "input_layernorm.weight", { h });
        l.postNorm = w.tensor(p + "post_attention_layernorm.weight", { h });
        l.q = w.linear(p + "self_attn.q_proj", q, h);
        l.k = w.linear(p + "self_attn.k_proj", kv, h);
        l.v = w.linear(p + "self_attn.v_proj", kv, h);
        l.o = w.linear(p + "self_attn.o_proj", h, q);
        if (config.qkvBias) {
            l.qBias = w.tensor(p + "self_attn.q_proj.bias", { q });
            l.kBias = w.tensor(p + "self_attn.k_proj.bias", { kv });
            l.vBias = w.tensor(p + "self_attn.v_proj.bias", { kv });
        }
        l.gate = w.linear(p + "mlp.gate_proj", config.intermediate, h);
        l.up = w.linear(p + "mlp.up_proj", config.intermediate, h);
        l.down = w.linear(p + "mlp.down_proj", h, config.intermediate);
        m.m_layers.push_back(std::move(l));
    }
    return m;
}

at::Tensor LlamaModel::inverseFrequencies() const
{
    // As Hugging Face computes them: float32 1 / theta^(2i / d).
    const std::int64_t d = m_config.headDim;
    at::Tensor inv = 1.0 / at::pow(m_config.ropeTheta, at::arange(0, d, 2, at::kLong).to(at::kFloat) / d);
    const RopeScaling& s = m_config.ropeScaling;
    if (s.type == "linear")
        return inv / s.factor;
    if (s.type != "llama3")
        return inv;
    const double lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const double highWavelen = s.originalMaxPositions / s.highFreqFactor;
    const at::Tensor wavelen = 2 * M_PI / inv;
    at::Tensor scaled = at::where(wavelen > lowWavelen, inv / s.factor, inv);
    const at::Tensor smooth
        = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    const at::Tensor medium = (wavelen >= highWavelen).logical_and(wavelen <= lowWavelen);
    return at::where(medium, smoothed, scaled);
}

at::Tensor LlamaModel::rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const
{
    // x [tokens, heads, headDim]; cos/sin [tokens, 1, headDim / 2]
    const std::int64_t half = m_config.headDim / 2;
    if (m_config.ropeInterleaved) {
        const at::Tensor pairs = x.reshape({ x.size(0), x.size(1), half, 2 });
        const at::Tensor x0 = pairs.select(-1, 0);
        const at::Tensor x1 = pairs.select(-1, 1);
        return at::stack({ x0 * cos - x1 * sin, x0 * sin + x1 * cos }, -1).reshape(x.sizes());
    }
    const at::Tensor x1 = x.slice(-1, 0, half);
    const at::Tensor x2 = x.slice(-1, half);
    return at::cat({ x1 * cos - x2 * sin, x2 * cos + x1 * sin }, -1);
}

at::Tensor LlamaModel::forward(
    const std::vector<std::int64_t>& tokens, const LinearInputHook& hook, const ActivationObserver& observe) const
{
    const ModelConfig& c = m_config;
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (n == 0)
        return at::empty({ 0, c.vocabSize });
    checkTokens(tokens);
    const at::Tensor ids = at::tensor(tokens, at::kLong);
    at::Tensor x = m_embed.index_select(0, ids);
    if (c.embeddingMultiplier != 1)
        x = x * c.embeddingMultiplier;

    const at::Tensor positions = at::arange(n, at::kLong).to(at::kFloat);
    const at::Tensor angles = at::outer(positions, inverseFrequencies()); // [n, half]
    const at::Tensor cos = angles.cos().unsqueeze(1);
    const at::Tensor sin = angles.sin().unsqueeze(1);

    for (std::size_t i = 0; i < m_layers.size(); ++i) {
        const Layer& l = m_layers[i];
        const std::string p = "model.layers." + std::to_string(i) + ".";
        auto see = [&](const char* kind, const at::Tensor& t, bool perChannel = true) {
            if (observe)
                observe(p + kind, kind, t, perChannel);
        };
        const at::Tensor a = layers::rmsNorm(x, l.inputNorm, c.normEps);
        see("attention.input", a);
        at::Tensor q = layers::linear(a, l.q, l.qBias, p + "self_attn.q_proj", hook).view({ n, c.heads, c.headDim });
        at::Tensor k = layers::linear(a, l.k, l.kBias, p + "self_attn.k_proj", hook).view({ n, c.kvHeads, c.headDim });
        at::Tensor v = layers::linear(a, l.v, l.vBias, p + "self_attn.v_proj", hook).view({ n, c.kvHeads, c.headDim });
        q = rotary(q, cos, sin);
        k = rotary(k, cos, sin);
        const at::Tensor attended
            = selfAttention(q.reshape({ n, -1 }), k.reshape({ n, -1 }), v.reshape({ n, -1 }), c, p, observe);
        at::Tensor out = layers::linear(attended, l.o, {}, p + "self_attn.o_proj", hook);
        see("attention.output", out);
        if (c.residualMultiplier != 1)
            out = out * c.residualMultiplier;
        x = x + out;

        const at::Tensor b = layers::rmsNorm(x, l.postNorm, c.normEps);
        see("mlp.input", b);
        const at::Tensor gate = layers::linear(b, l.gate, {}, p + "mlp.gate_proj", hook);
        see("mlp.activation_input", gate);
        const at::Tensor activated = at::silu(gate);
        see("mlp.activation_output", activated);
        const at::Tensor gated = activated * layers::linear(b, l.up, {}, p + "mlp.up_proj", hook);
        at::Tensor mlp = layers::linear(gated, l.down, {}, p + "mlp.down_proj", hook);
        see("mlp.output", mlp);
        if (c.residualMultiplier != 1)
            mlp = mlp * c.residualMultiplier;
        x = x + mlp;
    }
    x = layers::rmsNorm(x, m_norm, c.normEps);
    at::Tensor logits = layers::linear(x, m_head, {}, "lm_head", hook);
    if (c.logitsScaling != 1)
        logits = logits / c.logitsScaling;
    return logits.contiguous();
}

} // namespace qs
