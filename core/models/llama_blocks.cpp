// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/llama_blocks.h"

#include "error.h"
#include "models/layers.h"
#include "models/self_attention.h"
#include "models/vocab_head.h"
#include "models/weight_loader.h"

#include <ATen/ATen.h>

#include <cmath>

namespace qs {
namespace {

// As Hugging Face computes them: float32 1 / theta^(2i / d), then the configured scaling.
at::Tensor inverseFrequencies(const ModelConfig& c)
{
    const std::int64_t d = c.headDim;
    at::Tensor inv = 1.0 / at::pow(c.ropeTheta, at::arange(0, d, 2, at::kLong).to(at::kFloat) / d);
    const RopeScaling& s = c.ropeScaling;
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

class LlamaLayer final : public Block
{
public:
    LlamaLayer(const WeightLoader& w, const ModelConfig& c, const std::string& name)
        : m_config(c)
    {
        m_name = name;
        const std::string p = name + ".";
        const std::int64_t h = c.hidden;
        const std::int64_t q = c.heads * c.headDim;
        const std::int64_t kv = c.kvHeads * c.headDim;
        m_inputNorm = { p + "input_layernorm", w.tensor(p + "input_layernorm.weight", { h }), {} };
        m_postNorm = { p + "post_attention_layernorm", w.tensor(p + "post_attention_layernorm.weight", { h }), {} };
        auto linear = [&](Projection& out, const std::string& module, std::int64_t rows, std::int64_t cols,
                          std::int64_t bias = 0) {
            out.module = p + module;
            out.weight = w.linear(out.module, rows, cols);
            if (bias > 0)
                out.bias = w.tensor(out.module + ".bias", { bias });
        };
        linear(m_q, "self_attn.q_proj", q, h, c.qkvBias ? q : 0);
        linear(m_k, "self_attn.k_proj", kv, h, c.qkvBias ? kv : 0);
        linear(m_v, "self_attn.v_proj", kv, h, c.qkvBias ? kv : 0);
        linear(m_o, "self_attn.o_proj", h, q);
        linear(m_gate, "mlp.gate_proj", c.intermediate, h);
        linear(m_up, "mlp.up_proj", c.intermediate, h);
        linear(m_down, "mlp.down_proj", h, c.intermediate);
        m_inverse = inverseFrequencies(c);
        m_others = { m_inputNorm.weight, m_postNorm.weight };
        m_tensors = w.read();
    }

    std::vector<const Projection*> projections() const override
    {
        return { &m_q, &m_k, &m_v, &m_o, &m_gate, &m_up, &m_down };
    }
    std::vector<const NormWeights*> smoothableNorms() const override { return { &m_inputNorm, &m_postNorm }; }

    at::Tensor forward(const at::Tensor& input, std::int64_t position, const BlockHooks& hooks,
        KvCache* cache) const override
    {
        const ModelConfig& c = m_config;
        const std::int64_t n = input.size(0);
        const std::string p = m_name + ".";
        auto see = [&](const char* kind, const at::Tensor& t) {
            if (hooks.observe)
                hooks.observe(p + kind, kind, t, true);
        };
        const auto [cos, sin] = rotation(position, n);

        const at::Tensor a = layers::rmsNorm(input, m_inputNorm.weight, c.normEps);
        see("attention.input", a);
        at::Tensor out = attention(a, cos, sin, hooks, cache);
        see("attention.output", out);
        if (c.residualMultiplier != 1)
            out = out * c.residualMultiplier;
        at::Tensor x = input + out;

        const at::Tensor b = layers::rmsNorm(x, m_postNorm.weight, c.normEps);
        see("mlp.input", b);
        at::Tensor mlp = feedForward(b, hooks);
        see("mlp.output", mlp);
        if (c.residualMultiplier != 1)
            mlp = mlp * c.residualMultiplier;
        return x + mlp;
    }

    at::Tensor runParent(
        const std::string& parent, const at::Tensor& x, std::int64_t position, const BlockHooks& hooks) const override
    {
        if (parent == m_name + ".mlp")
            return feedForward(x, hooks);
        if (parent != m_name + ".self_attn")
            return Block::runParent(parent, x, position, hooks);
        const auto [cos, sin] = rotation(position, x.size(0));
        return attention(x, cos, sin, hooks, nullptr);
    }

private:
    std::pair<at::Tensor, at::Tensor> rotation(std::int64_t position, std::int64_t n) const
    {
        const at::Tensor positions = at::arange(position, position + n, at::kLong).to(at::kFloat);
        const at::Tensor angles = at::outer(positions, m_inverse); // [n, half]
        return { angles.cos().unsqueeze(1), angles.sin().unsqueeze(1) };
    }

    // self_attn on the input norm's output a -> o_proj's output.
    at::Tensor attention(
        const at::Tensor& a, const at::Tensor& cos, const at::Tensor& sin, const BlockHooks& hooks, KvCache* cache) const
    {
        const ModelConfig& c = m_config;
        const std::int64_t n = a.size(0);
        const at::Tensor q = rotary(project(a, m_q, hooks).view({ n, c.heads, c.headDim }), cos, sin);
        at::Tensor k = rotary(project(a, m_k, hooks).view({ n, c.kvHeads, c.headDim }), cos, sin).reshape({ n, -1 });
        at::Tensor v = project(a, m_v, hooks);
        const std::int64_t past = appendToCache(cache, k, v);
        const at::Tensor attended = selfAttention(q.reshape({ n, -1 }), k, v, c, m_name + ".", hooks.observe, past);
        return project(attended, m_o, hooks);
    }

    // mlp on the post-attention norm's output b -> down_proj's output.
    at::Tensor feedForward(const at::Tensor& b, const BlockHooks& hooks) const
    {
        const std::string p = m_name + ".";
        const at::Tensor gate = project(b, m_gate, hooks);
        if (hooks.observe)
            hooks.observe(p + "mlp.activation_input", "mlp.activation_input", gate, true);
        const at::Tensor activated = at::silu(gate);
        if (hooks.observe)
            hooks.observe(p + "mlp.activation_output", "mlp.activation_output", activated, true);
        return project(activated * project(b, m_up, hooks), m_down, hooks);
    }

    // x [tokens, heads, headDim]; cos/sin [tokens, 1, headDim / 2]
    at::Tensor rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const
    {
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

    const ModelConfig& m_config;
    NormWeights m_inputNorm, m_postNorm;
    at::Tensor m_inverse;
    Projection m_q, m_k, m_v, m_o, m_gate, m_up, m_down;
};

} // namespace

LlamaBlocks::LlamaBlocks(const Checkpoint& checkpoint, const ModelConfig& config)
    : ModelBlocks(checkpoint, config)
{
    if (!checkpoint.find("model.embed_tokens.weight"))
        throw FormatError("the model has no tensor 'model.embed_tokens.weight', which a " + config.modelType
                + " model needs",
            ErrorContext { checkpoint.path().string(), "model.embed_tokens.weight", {} });
    m_embeddingTensors = { "model.embed_tokens.weight" };
}

std::string LlamaBlocks::layerName(std::int64_t layer) const
{
    return "model.layers." + std::to_string(layer);
}

at::Tensor LlamaBlocks::embed(const std::vector<std::int64_t>& tokens, std::int64_t) const
{
    checkTokens(tokens);
    at::Tensor x = rows("model.embed_tokens.weight", at::tensor(tokens, at::kLong));
    if (m_config.embeddingMultiplier != 1)
        x = x * m_config.embeddingMultiplier;
    return x;
}

std::unique_ptr<Block> LlamaBlocks::loadLayer(std::int64_t layer, const WeightTransform& transform) const
{
    const WeightLoader w(m_checkpoint, m_config, transform);
    return withInputRotations(std::make_unique<LlamaLayer>(w, m_config, layerName(layer)));
}

std::unique_ptr<Head> LlamaBlocks::loadHead(const WeightTransform& transform) const
{
    const WeightLoader w(m_checkpoint, m_config, transform);
    const std::int64_t h = m_config.hidden;
    std::string tensor = "lm_head.weight";
    bool transformed = w.transforms();
    if (!w.has(tensor)) {
        if (!m_config.tieEmbeddings)
            throw FormatError("the model has no lm_head.weight and does not tie its embeddings",
                ErrorContext { m_checkpoint.path().string(), "lm_head.weight", {} });
        tensor = "model.embed_tokens.weight"; // tied: the exporters leave it alone, so does fake quantization
        transformed = false;
    }
    const at::Tensor norm = w.tensor("model.norm.weight", { h });
    const double eps = m_config.normEps;
    return std::make_unique<VocabHead>(m_checkpoint, w, "lm_head", tensor, transformed, m_config,
        [norm, eps](const at::Tensor& x, const BlockHooks&) { return layers::rmsNorm(x, norm, eps); }, at::Tensor(),
        m_config.logitsScaling);
}

} // namespace qs
