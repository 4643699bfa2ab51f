// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/rotation.h"

#include "error.h"
#include "models/model_config.h"

#include <ATen/ATen.h>

#include <chrono>
#include <vector>

namespace qs {
namespace {

std::string describe(RotationKind kind, const at::Tensor& r, std::int64_t n)
{
    // A Hadamard rotation has entries +-1/sqrt(n) only.
    const bool hadamard = kind == RotationKind::Hadamard
        && at::allclose(r.abs(), at::full_like(r, 1.0 / std::sqrt(static_cast<double>(n))), 1e-5, 0);
    return std::string(hadamard ? "hadamard " : "random ") + std::to_string(n);
}

class Rotator
{
public:
    Rotator(const Checkpoint& c, CalibratedTensors& out, Progress& progress, std::int64_t total)
        : m_checkpoint(c)
        , m_out(out)
        , m_progress(progress)
        , m_total(total)
    {
    }

    const TensorInfo& info(const std::string& name) const
    {
        const TensorInfo* t = m_checkpoint.find(name);
        if (!t)
            throw FormatError("the rotation needs this tensor and the checkpoint lacks it",
                ErrorContext { m_checkpoint.path().string(), name, {} });
        return *t;
    }
    at::Tensor load(const std::string& name) const { return m_checkpoint.loadFloat(info(name).name).to(at::kFloat); }
    void store(const std::string& name, const at::Tensor& values)
    {
        if (m_progress.cancelled())
            throw CancelledError();
        m_out.replace(info(name), values.contiguous());
        ++m_done;
        m_progress.report({ m_done, m_total, 0, 0, name });
    }
    int done() const { return static_cast<int>(m_done); }

private:
    const Checkpoint& m_checkpoint;
    CalibratedTensors& m_out;
    Progress& m_progress;
    std::int64_t m_total;
    std::int64_t m_done = 0;
};

// R2 per head: rows [h d, (h + 1) d) of v times R2^T (v' = v R2 per head) ...
at::Tensor rotateHeadRows(const at::Tensor& w, const at::Tensor& r2, std::int64_t headDim)
{
    const at::Tensor heads = w.reshape({ -1, headDim, w.size(-1) }); // [heads, d, in]
    return at::matmul(r2.t(), heads).reshape(w.sizes());
}

// ... and the columns of each head's block of o times R2.
at::Tensor rotateHeadColumns(const at::Tensor& w, const at::Tensor& r2, std::int64_t headDim)
{
    const std::int64_t rows = w.size(0);
    const at::Tensor blocks = w.reshape({ rows, -1, headDim }); // [out, heads, d]
    return at::matmul(blocks, r2).reshape(w.sizes());
}

} // namespace

RotationReport rotateCheckpoint(
    const Checkpoint& checkpoint, const RotationSettings& settings, CalibratedTensors& out, Progress& progress)
{
    const auto started = std::chrono::steady_clock::now();
    const ModelConfig c = modelConfigFromJson(checkpoint.config());
    if (c.family != ModelFamily::Llama)
        throw UsageError("rotations are implemented for the Llama family (Llama, Mistral, Qwen2, Granite), not for a "
            + c.modelType + " model");
    if (c.tieEmbeddings)
        throw UsageError("the rotation folds the final norm into the head, and this model's head is its input "
                         "embedding (tie_word_embeddings): rotations need separate embeddings",
            ErrorContext { checkpoint.path().string(), {}, {} });
    const at::Tensor r1 = rotationMatrix(c.hidden, settings.kind, settings.seed);
    const at::Tensor r2 = settings.r2 ? rotationMatrix(c.headDim, settings.kind, settings.seed + 1) : at::Tensor();
    RotationReport report;
    report.r1 = describe(settings.kind, r1, c.hidden);
    if (settings.r2)
        report.r2 = describe(settings.kind, r2, c.headDim);
    Rotator rot(checkpoint, out, progress, 2 + c.layers * 9 + 1);

    // W diag(gamma) R1 for a module reading a norm's output.
    auto reading = [&](const std::string& name, const at::Tensor& gamma) {
        rot.store(name, at::matmul(rot.load(name) * gamma.reshape({ 1, -1 }), r1));
    };
    const std::string embed = "model.embed_tokens.weight";
    rot.store(embed, at::matmul(rot.load(embed), r1));
    for (std::int64_t layer = 0; layer < c.layers; ++layer) {
        if (progress.cancelled())
            throw CancelledError();
        const std::string p = "model.layers." + std::to_string(layer) + ".";
        const at::Tensor inputNorm = rot.load(p + "input_layernorm.weight");
        const at::Tensor postNorm = rot.load(p + "post_attention_layernorm.weight");
        reading(p + "self_attn.q_proj.weight", inputNorm);
        reading(p + "self_attn.k_proj.weight", inputNorm);
        at::Tensor v = at::matmul(rot.load(p + "self_attn.v_proj.weight") * inputNorm.reshape({ 1, -1 }), r1);
        at::Tensor o = rot.load(p + "self_attn.o_proj.weight");
        if (settings.r2) {
            v = rotateHeadRows(v, r2, c.headDim);
            o = rotateHeadColumns(o, r2, c.headDim);
            if (const TensorInfo* b = checkpoint.find(p + "self_attn.v_proj.bias")) {
                const at::Tensor bias = checkpoint.loadFloat(b->name).to(at::kFloat);
                rot.store(b->name, at::matmul(bias.reshape({ -1, 1, c.headDim }), r2).reshape(bias.sizes()));
            }
        }
        rot.store(p + "self_attn.v_proj.weight", v);
        rot.store(p + "self_attn.o_proj.weight", at::matmul(r1.t(), o));
        reading(p + "mlp.gate_proj.weight", postNorm);
        reading(p + "mlp.up_proj.weight", postNorm);
        rot.store(p + "mlp.down_proj.weight", at::matmul(r1.t(), rot.load(p + "mlp.down_proj.weight")));
        rot.store(p + "input_layernorm.weight", at::ones_like(inputNorm));
        rot.store(p + "post_attention_layernorm.weight", at::ones_like(postNorm));
        report.foldedNorms += 2;
    }
    const at::Tensor finalNorm = rot.load("model.norm.weight");
    reading("lm_head.weight", finalNorm);
    rot.store("model.norm.weight", at::ones_like(finalNorm));
    report.foldedNorms += 1;
    report.rotatedTensors = rot.done();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
}

} // namespace qs
