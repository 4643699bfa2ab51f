// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/narrow_weights.h"

#include "quant/kernels/row_kernels.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

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
    const bool perChannel = q.scale.dim() > 0;
    if (q.codes.numel() < 2)
        return;
    if (perChannel) {
        // Blocks of rows, so the float temporaries stay small whatever the tensor's size. The
        // SAWB clip comes from torch's own float32 reductions, row by row, as fms-mo computes it.
        q.codeStdBefore = q.codeStd.size() == static_cast<std::size_t>(rows.size(0))
            ? q.codeStd
            : toVector(q.codes.reshape({ rows.size(0), -1 }).to(at::kFloat).std(1));
        q.codeStdAfter = q.codeStdBefore;
        bool any = false;
        for (const float s : q.codeStdBefore)
            any = any || s < threshold;
        if (!any)
            return;
        const kernels::Table& k = kernels::best();
        const std::int64_t nRows = rows.size(0);
        const std::int64_t cols = rows.size(1);
        const std::int64_t block
            = std::max<std::int64_t>(1, (std::int64_t { 4 } << 20) / std::max<std::int64_t>(cols, 1));
        at::Tensor clipOut = q.clip.reshape({ -1 }).clone();
        auto* codes = q.codes.reshape({ nRows, cols }).data_ptr<std::int8_t>();
        float* clipData = clipOut.data_ptr<float>();
        std::int64_t recomputed = 0;
        for (std::int64_t b = 0; b < nRows; b += block) {
            const std::int64_t n = std::min(block, nRows - b);
            const at::Tensor w = rows.narrow(0, b, n).to(at::kFloat).contiguous();
            const at::Tensor clip = sawbClip(w, 1).contiguous();
            const at::Tensor clip16 = clip.to(at::kHalf).to(at::kFloat).contiguous();
            const at::Tensor absMax = w.abs().amax(1).contiguous();
            for (std::int64_t r = 0; r < n; ++r) {
                const float c = clip.data_ptr<float>()[r];
                const float c16 = clip16.data_ptr<float>()[r];
                if (!(c16 < absMax.data_ptr<float>()[r]))
                    continue; // this row keeps its codes and its abs-max clip
                // torch.quantize_per_channel with scale clip*2/254: lrintf(w * (1/scale)), then
                // clamped to [-127, 127].
                kernels::IntUnit unit;
                unit.scale = (c * 2.0f) / 254.0f;
                unit.inverse = 1.0f / unit.scale;
                unit.qmin = -127;
                unit.qmax = 127;
                std::int8_t* out = codes + (b + r) * cols;
                k.quantizeInt(kernels::IntRule::Nxd, kernels::QuotientRounding::None, unit,
                    w.data_ptr<float>() + r * cols, cols, out);
                kernels::RunError moments;
                k.measureInt(w.data_ptr<float>() + r * cols, out, cols, unit.scale, 0.0f, moments);
                const double var
                    = cols > 1 ? (moments.codeSumSquares - moments.codeSum * moments.codeSum / cols) / (cols - 1) : 0.0;
                q.codeStdAfter[static_cast<std::size_t>(b + r)] = static_cast<float>(std::sqrt(std::max(0.0, var)));
                clipData[b + r] = c16;
                ++recomputed;
            }
        }
        q.clip = clipOut.unsqueeze(1);
        q.scale = q.clip / 127.0;
        q.recomputedRows = recomputed;
        return;
    }
    const float before = q.codes.to(at::kFloat).std().item<float>();
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
