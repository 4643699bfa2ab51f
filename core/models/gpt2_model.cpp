// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/gpt2_model.h"

#include "error.h"
#include "io/checkpoint.h"
#include "models/layers.h"
#include "models/self_attention.h"
#include "models/weight_loader.h"

#include <ATen/ATen.h>

namespace qs {
namespace {

std::string detectPrefix(const WeightLoader& w, const Checkpoint& checkpoint)
{
    if (w.has("transformer.wte.weight"))
        return "transformer.";
    if (w.has("wte.weight"))
        return "";
    throw FormatError("the model has no token embedding transformer.wte.weight (or wte.weight), which a GPT-2 "
                      "or nanoGPT model needs",
        ErrorContext { checkpoint.path().string(), "transformer.wte.weight", {} });
}

} // namespace

Gpt2Model::Norm Gpt2Model::loadNorm(const WeightLoader& w, const std::string& module, NormKind kind) const
{
    const std::int64_t h = m_config.hidden;
    Norm n;
    if (kind == NormKind::RmsNorm) {
        n.weight = w.tensor(module + ".gain", { h });
        return n;
    }
    n.weight = w.tensor(module + ".weight", { h });
    n.bias = m_config.normBias ? w.tensor(module + ".bias", { h }) : w.optional(module + ".bias", { h });
    return n;
}

Gpt2Model::Projection Gpt2Model::loadProjection(
    const WeightLoader& w, const std::string& module, std::int64_t out, std::int64_t in) const
{
    Projection p;
    p.module = module;
    p.weight = m_config.conv1dWeights ? w.conv1d(module, in, out) : w.linear(module, out, in);
    p.bias = m_config.linearBias ? w.tensor(module + ".bias", { out }) : w.optional(module + ".bias", { out });
    return p;
}

Gpt2Model Gpt2Model::load(const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform)
{
    Gpt2Model m;
    m.m_config = config;
    const ModelConfig& c = m.m_config;
    const WeightLoader w(checkpoint, m.m_config, transform);
    m.m_prefix = detectPrefix(w, checkpoint);
    const std::string& t = m.m_prefix;
    const std::int64_t h = c.hidden;
    const std::int64_t kv = c.kvHeads * c.headDim;
    m.m_wte = w.tensor(t + "wte.weight", { c.vocabSize, h });
    if (c.absolutePositions)
        m.m_wpe = w.tensor(t + "wpe.weight", { c.maxPositions, h });
    // The fork names the norm parameter `gain` for RMSNorm; newer fork versions call the block
    // norms pre_ln_attn/pre_ln_mlp, older ones and everything else ln_1/ln_2.
    const std::string param = c.norm == NormKind::RmsNorm ? ".gain" : ".weight";
    for (std::int64_t i = 0; i < c.layers; ++i) {
        Layer l;
        l.path = t + "h." + std::to_string(i) + ".";
        const std::string& p = l.path;
        const bool fork = w.has(p + "pre_ln_attn" + param);
        l.norm1 = m.loadNorm(w, p + (fork ? "pre_ln_attn" : "ln_1"), c.norm);
        l.norm2 = m.loadNorm(w, p + (fork ? "pre_ln_mlp" : "ln_2"), c.norm);
        if (c.separateQkv && !w.has(p + "attn.c_attn.weight")) {
            l.q = m.loadProjection(w, p + "attn.c_attn_q", h, h);
            l.k = m.loadProjection(w, p + "attn.c_attn_k", kv, h);
            l.v = m.loadProjection(w, p + "attn.c_attn_v", kv, h);
        } else {
            if (kv != h)
                throw FormatError("a fused c_attn needs as many key/value heads as heads",
                    ErrorContext { checkpoint.path().string(), p + "attn.c_attn.weight", {} });
            l.qkv = m.loadProjection(w, p + "attn.c_attn", 3 * h, h);
        }
        l.proj = m.loadProjection(w, p + "attn.c_proj", h, h);
        l.fc = m.loadProjection(w, p + "mlp.c_fc", c.intermediate, h);
        l.down = m.loadProjection(w, p + "mlp.c_proj", h, c.intermediate);
        const at::Tensor x = w.optional(p + "mlp.activation_x_offset", {});
        const at::Tensor y = w.optional(p + "mlp.activation_y_offset", {});
        l.inputOffset = x.defined() ? x.item<double>() : c.mlpInputOffset;
        l.outputOffset = y.defined() ? y.item<double>() : c.mlpOutputOffset;
        m.m_layers.push_back(std::move(l));
    }
    m.m_finalNorm = m.loadNorm(w, t + "ln_f", c.finalNorm);
    if (w.has("lm_head.weight"))
        m.m_head = w.linear("lm_head", c.vocabSize, h);
    else if (c.tieEmbeddings)
        m.m_head = m.m_wte; // tied: left alone, as the exporters do
    else
        throw FormatError("the model has no lm_head.weight and does not tie its embeddings",
            ErrorContext { checkpoint.path().string(), "lm_head.weight", {} });
    return m;
}

at::Tensor Gpt2Model::normalize(const at::Tensor& x, const Norm& norm, NormKind kind) const
{
    if (kind == NormKind::RmsNorm)
        return layers::rmsNorm(x, norm.weight, 0.0); // the fork's RMSNorm has no epsilon
    return layers::layerNorm(x, norm.weight, norm.bias, m_config.normEps);
}

at::Tensor Gpt2Model::project(const at::Tensor& x, const Projection& p, const LinearInputHook& hook) const
{
    return layers::linear(x, p.weight, p.bias, p.module, hook);
}

at::Tensor Gpt2Model::forward(
    const std::vector<std::int64_t>& tokens, const LinearInputHook& hook, const ActivationObserver& observe) const
{
    const ModelConfig& c = m_config;
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (n == 0)
        return at::empty({ 0, c.vocabSize });
    checkTokens(tokens);
    if (c.absolutePositions && n > c.maxPositions)
        throw UsageError(std::to_string(n) + " tokens exceed the model's " + std::to_string(c.maxPositions)
            + " positions; use a shorter sequence");
    at::Tensor x = m_wte.index_select(0, at::tensor(tokens, at::kLong));
    if (c.absolutePositions)
        x = x + m_wpe.slice(0, 0, n);

    const std::int64_t h = c.hidden;
    for (const Layer& l : m_layers) {
        auto see = [&](const char* kind, const at::Tensor& t) {
            if (observe)
                observe(l.path + kind, kind, t, true);
        };
        const at::Tensor a = normalize(x, l.norm1, c.norm);
        see("attention.input", a);
        at::Tensor q, k, v;
        if (l.qkv.weight.defined()) {
            const at::Tensor qkv = project(a, l.qkv, hook);
            q = qkv.slice(1, 0, h);
            k = qkv.slice(1, h, 2 * h);
            v = qkv.slice(1, 2 * h, 3 * h);
        } else {
            q = project(a, l.q, hook);
            k = project(a, l.k, hook);
            v = project(a, l.v, hook);
        }
        const at::Tensor attended = selfAttention(q, k, v, c, l.path, observe);
        const at::Tensor out = project(attended, l.proj, hook);
        see("attention.output", out);
        x = x + out;

        const at::Tensor b = normalize(x, l.norm2, c.norm);
        see("mlp.input", b);
        const at::Tensor up = project(b, l.fc, hook);
        see("mlp.activation_input", up);
        at::Tensor activated = layers::activation(l.inputOffset != 0 ? up - l.inputOffset : up, c.activation);
        if (l.outputOffset != 0)
            activated = activated - l.outputOffset;
        see("mlp.activation_output", activated);
        const at::Tensor mlp = project(activated, l.down, hook);
        see("mlp.output", mlp);
        x = x + mlp;
    }
    x = normalize(x, m_finalNorm, c.finalNorm);
    return layers::linear(x, m_head, {}, "lm_head", hook).contiguous();
}

} // namespace qs
