#include "quant/narrow_weights.h"

#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>

namespace qs {
namespace {

std::vector<float> toVector(const at::Tensor& t)
{
    const at::Tensor c = t.to(at::kFloat).contiguous().reshape({ -1 });
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

at::Tensor sawbClip(const at::Tensor& w, c10::optional<std::int64_t> dim)
{
    const at::Tensor rms = dim ? w.square().mean(*dim).sqrt() : w.square().mean().sqrt();
    const at::Tensor meanAbs = dim ? w.abs().mean(*dim) : w.abs().mean();
    return rms * 31.76 - meanAbs * 35.04;
}

} // namespace

void recomputeNarrowWeights(const at::Tensor& rows, SchemeQuantized& q)
{
    const double threshold = q.scheme.narrowStdThreshold;
    const at::Tensor codes = q.codes.to(at::kFloat);
    const bool perChannel = q.scale.dim() > 0;
    if (codes.numel() < 2)
        return;
    if (perChannel) {
        const at::Tensor before = codes.std(1);
        q.codeStdBefore = toVector(before);
        q.codeStdAfter = q.codeStdBefore;
        if (!before.lt(threshold).any().item<bool>())
            return;
        const at::Tensor w = rows.to(at::kFloat);
        const at::Tensor clip = sawbClip(w, 1);
        const at::Tensor clip16 = clip.to(at::kHalf).to(at::kFloat);
        const at::Tensor absMax = w.abs().amax(1);
        const at::Tensor use = clip16.lt(absMax);
        // torch.quantize_per_channel with scale clip*2/254 and zero point 0: lrintf(w * (1/scale)).
        const at::Tensor scale = clip * 2.0 / 254.0;
        const at::Tensor sawbCodes
            = at::round(w * scale.reciprocal().unsqueeze(1)).clamp(-128, 127).clamp(-127, 127).to(at::kChar);
        q.codes = at::where(use.unsqueeze(1), sawbCodes, q.codes);
        // Rows that keep their codes keep their clip (abs-max, floored for an all-zero row).
        q.clip = at::where(use, clip16, q.clip.reshape({ -1 })).unsqueeze(1);
        q.scale = q.clip / 127.0;
        q.recomputedRows = use.sum().item<std::int64_t>();
        q.codeStdAfter = toVector(q.codes.to(at::kFloat).std(1));
        return;
    }
    const float before = codes.std().item<float>();
    q.codeStdBefore = { before };
    q.codeStdAfter = { before };
    if (!(before < threshold))
        return;
    const at::Tensor w = rows.to(at::kFloat);
    at::Tensor clip = sawbClip(w, c10::nullopt);
    const at::Tensor absMax = w.abs().max();
    if (!(clip.item<float>() > 0))
        clip = absMax;
    q.codes = (at::round(((w / clip).clamp(-1, 1) * 0.5 + 0.5) * 254) - 127).to(at::kChar);
    q.clip = at::minimum(clip.to(at::kHalf).to(at::kFloat), absMax);
    q.scale = q.clip / 127.0;
    q.recomputedRows = 1;
    q.codeStdAfter = { q.codes.to(at::kFloat).std().item<float>() };
}

} // namespace qs
