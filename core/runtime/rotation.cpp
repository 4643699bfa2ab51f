// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/rotation.h"

#include "error.h"
#include "models/block.h"
#include "models/model_config.h"

#include <ATen/ATen.h>

#include <chrono>
#include <vector>

namespace qs {
namespace {

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
    // A float32 copy; the source's pages are dropped after, so that resident memory holds one
    // tensor, not the model (mapped pages count as resident).
    at::Tensor load(const std::string& name) const
    {
        // loadFloat of a float32 tensor is a view of the mapping: copied before its pages go.
        at::Tensor t = m_checkpoint.loadFloat(info(name).name).to(at::kFloat).clone();
        m_checkpoint.release(name);
        return t;
    }
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

// R^T W: the columns of W rotated, (W^T R)^T.
at::Tensor leftTransposed(const Rotation& r, const at::Tensor& w)
{
    return r.right(w.t().contiguous()).t();
}

// R2 per head: rows [h d, (h + 1) d) of v times R2^T (v' = v R2 per head) ...
at::Tensor rotateHeadRows(const at::Tensor& w, const Rotation& r2, std::int64_t headDim)
{
    const at::Tensor heads = w.reshape({ -1, headDim, w.size(-1) }); // [heads, d, in]
    return r2.right(heads.transpose(1, 2).contiguous()).transpose(1, 2).reshape(w.sizes());
}

// ... and the columns of each head's block of o times R2.
at::Tensor rotateHeadColumns(const at::Tensor& w, const Rotation& r2, std::int64_t headDim)
{
    return r2.right(w.reshape({ w.size(0), -1, headDim })).reshape(w.sizes());
}

} // namespace

Rotation onlineDownRotation(const ModelConfig& config, const RotationSettings& settings)
{
    return Rotation::make(config.intermediate, settings.kind, settings.seed + 2);
}

RotationReport rotateCheckpoint(
    const Checkpoint& checkpoint, const RotationSettings& settings, CalibratedTensors& out, Progress& progress)
{
    const auto started = std::chrono::steady_clock::now();
    const ModelConfig c = modelConfigFromJson(checkpoint.config());
    if (c.family != ModelFamily::Llama)
        throw UsageError("rotations are implemented for the Llama family (Llama, Mistral, Qwen2, Granite), not for a "
            + c.modelType + " model");
    if (c.tieEmbeddings && !settings.untie)
        throw UsageError("the rotation folds the final norm into the head, and this model's head is its input "
                         "embedding (tie_word_embeddings): rotations need a separate head (RotationSettings::untie)",
            ErrorContext { checkpoint.path().string(), {}, {} });
    const LearnedRotations* learned = settings.learned.get();
    if (learned
        && (learned->r1.dim() != 2 || learned->r1.size(0) != c.hidden
            || (!learned->r2.empty() && static_cast<std::int64_t>(learned->r2.size()) != c.layers)))
        throw UsageError("the learned rotations do not fit this model's hidden size and layers");
    const Rotation r1 = learned ? Rotation::fromMatrix(learned->r1) : Rotation::make(c.hidden, settings.kind, settings.seed);
    const bool perHead = learned ? !learned->r2.empty() : settings.r2;
    const Rotation fixedR2 = Rotation::make(c.headDim, settings.kind, settings.seed + 1);
    auto r2Of = [&](std::int64_t layer) {
        return learned ? Rotation::fromMatrix(learned->r2[static_cast<std::size_t>(layer)]) : fixedR2;
    };
    RotationReport report;
    report.r1 = r1.description();
    if (perHead)
        report.r2 = learned ? "learned " + std::to_string(c.headDim) + " per layer" : fixedR2.description();
    const Rotation r4 = settings.online ? onlineDownRotation(c, settings) : Rotation::make(1, RotationKind::Hadamard, 0);
    if (settings.online)
        report.r4 = r4.description();
    Rotator rot(checkpoint, out, progress, 2 + c.layers * 9 + 1);

    // W diag(gamma) R1 for a module reading a norm's output.
    auto reading = [&](const std::string& name, const at::Tensor& gamma) {
        rot.store(name, r1.right(rot.load(name) * gamma.reshape({ 1, -1 })));
    };
    const std::string embed = "model.embed_tokens.weight";
    rot.store(embed, r1.right(rot.load(embed)));
    for (std::int64_t layer = 0; layer < c.layers; ++layer) {
        if (progress.cancelled())
            throw CancelledError();
        const std::string p = "model.layers." + std::to_string(layer) + ".";
        const at::Tensor inputNorm = rot.load(p + "input_layernorm.weight");
        const at::Tensor postNorm = rot.load(p + "post_attention_layernorm.weight");
        reading(p + "self_attn.q_proj.weight", inputNorm);
        reading(p + "self_attn.k_proj.weight", inputNorm);
        at::Tensor v = r1.right(rot.load(p + "self_attn.v_proj.weight") * inputNorm.reshape({ 1, -1 }));
        at::Tensor o = rot.load(p + "self_attn.o_proj.weight");
        if (perHead) {
            const Rotation r2 = r2Of(layer);
            v = rotateHeadRows(v, r2, c.headDim);
            o = rotateHeadColumns(o, r2, c.headDim);
            if (const TensorInfo* b = checkpoint.find(p + "self_attn.v_proj.bias")) {
                const at::Tensor bias = checkpoint.loadFloat(b->name).to(at::kFloat);
                rot.store(b->name, r2.right(bias.reshape({ -1, c.headDim })).reshape(bias.sizes()));
            }
        }
        rot.store(p + "self_attn.v_proj.weight", v);
        rot.store(p + "self_attn.o_proj.weight", leftTransposed(r1, o));
        reading(p + "mlp.gate_proj.weight", postNorm);
        reading(p + "mlp.up_proj.weight", postNorm);
        const at::Tensor down = leftTransposed(r1, rot.load(p + "mlp.down_proj.weight"));
        rot.store(p + "mlp.down_proj.weight", settings.online ? r4.right(down.contiguous()) : down);
        rot.store(p + "input_layernorm.weight", at::ones_like(inputNorm));
        rot.store(p + "post_attention_layernorm.weight", at::ones_like(postNorm));
        report.foldedNorms += 2;
        // The layer's temporaries back to the system: without a trim per layer the freed buffers
        // of different sizes fragment the heap and resident memory grows with the model.
        returnFreedMemory(std::uint64_t(1) << 40);
    }
    const at::Tensor finalNorm = rot.load("model.norm.weight");
    if (c.tieEmbeddings && !checkpoint.find("lm_head.weight")) {
        const TensorInfo& e = rot.info(embed);
        out.add("lm_head.weight", e, r1.right(rot.load(embed) * finalNorm.reshape({ 1, -1 })));
        out.patchConfig({ { "tie_word_embeddings", false } });
        report.untied = true;
    } else {
        reading("lm_head.weight", finalNorm);
    }
    rot.store("model.norm.weight", at::ones_like(finalNorm));
    report.foldedNorms += 1;
    report.rotatedTensors = rot.done();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
}

} // namespace qs
