// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/scheme_math.h"

#include "error.h"

#include <vector>

namespace qs {
namespace {

// A zero scale: the consumer's own floor where it has one, FLT_EPSILON otherwise (codes are
// then 0). The nanoGPT fork has none and divides by zero; with its quirks asked for, say so.
float zeroScale(const QuantScheme& s)
{
    if (s.nanogptQuirks)
        throw FormatError("the tensor (or one of its channels/groups) is all zeros: the nanoGPT fork would compute a "
                          "zero scale and NaN codes; turn off nanogpt_quirks to use FLT_EPSILON instead");
    return FLT_EPSILON;
}

} // namespace

UnitParams unitParams(const QuantScheme& s, const UnitStats& st, kernels::QuotientRounding weightDtype)
{
    UnitParams p;
    // llm-compressor evaluates the scale, the zero point and x / scale in the weight's dtype.
    const kernels::QuotientRounding r = s.weightDtypeMath && s.convention == ScaleConvention::CompressedTensors
        ? weightDtype
        : kernels::QuotientRounding::None;
    p.quotientRounding = r;
    // A zero compressed-tensors scale becomes the scale dtype's epsilon (current CT).
    const float ctEpsilon = r == kernels::QuotientRounding::BF16 ? 0.0078125f
        : r == kernels::QuotientRounding::F16                    ? 0.0009765625f
                                                                 : FLT_EPSILON;
    const float qmin = static_cast<float>(s.qmin());
    const float qmax = static_cast<float>(s.qmax());
    p.qmin = qmin;
    p.qmax = qmax;
    const float absMax = st.count ? (st.clip >= 0 ? std::min(st.clip, st.absMax) : st.absMax) : 0.0f;
    const float lo = st.count ? st.min : 0.0f;
    const float hi = st.count ? st.max : 0.0f;
    auto finish = [&](float scale) {
        p.scale = scale;
        p.inverse = 1.0f / scale;
        return p;
    };

    if (s.format == QuantFormat::Fp8E4M3 || s.format == QuantFormat::Fp8E5M2) {
        const float scale = absMax / static_cast<float>(s.fp8Max);
        if (s.convention == ScaleConvention::Nxd) // NxD: 1e-5 floor per channel; none per tensor (0 -> 1e-5 here)
            return finish(s.granularity == Granularity::Tensor && scale > 0 ? scale : std::max(scale, 1e-5f));
        if (s.convention == ScaleConvention::CompressedTensors)
            return finish(scale > 0 ? roundTo(r, scale) : ctEpsilon);
        return finish(scale > 0 ? scale : zeroScale(s));
    }

    switch (s.convention) {
    case ScaleConvention::Nxd:
        // Per channel: PerChannelAbsMaxObserver, absmax/127. Per tensor: torch's MinMaxObserver
        // (per_tensor_symmetric), absmax / ((qmax - qmin) / 2) = absmax/127.5.
        if (s.granularity == Granularity::Tensor)
            return finish(std::max(absMax / ((qmax - qmin) / 2.0f), FLT_EPSILON));
        return finish(std::max(absMax / qmax, FLT_EPSILON));
    case ScaleConvention::CompressedTensors: {
        if (s.symmetric) {
            const float scale = roundTo(r, absMax / ((qmax - qmin) / 2.0f));
            return finish(scale > 0 ? scale : ctEpsilon);
        }
        const float mn = std::min(lo, 0.0f);
        const float mx = std::max(hi, 0.0f);
        float scale = roundTo(r, roundTo(r, mx - mn) / (qmax - qmin));
        if (!(scale > 0))
            scale = ctEpsilon;
        p.zeroPoint = std::nearbyint(std::clamp(roundTo(r, qmin - roundTo(r, mn / scale)), qmin, qmax));
        return finish(scale);
    }
    case ScaleConvention::FmsMo: {
        const float clip = absMax > 0 ? absMax : FLT_EPSILON;
        p.multiplier = qmax / clip;
        return finish(clip / qmax);
    }
    case ScaleConvention::NanoGpt:
        break;
    }

    if (s.format == QuantFormat::Ternary) {
        const float mean = st.count ? static_cast<float>(st.sumAbs / static_cast<double>(st.count)) : 0.0f;
        return finish(std::max(mean, 1e-5f));
    }
    if (s.rounding == Rounding::Stochastic) {
        const float levels = s.nanogptQuirks ? static_cast<float>((1 << s.bits) - 1) : qmax;
        p.multiplier = absMax > 0 ? absMax : zeroScale(s);
        return finish(p.multiplier / levels);
    }
    if (s.symmetric) {
        const float scale = absMax / qmax;
        return finish(scale > 0 ? scale : zeroScale(s));
    }
    float scale = (hi - lo) / static_cast<float>((1 << s.bits) - 1);
    if (!(scale > 0))
        scale = zeroScale(s);
    p.zeroPoint = -std::nearbyint(lo / scale) + qmin;
    return finish(scale);
}

float chooseClip(const QuantScheme& s, const UnitStats& st, const float* values, std::int64_t n)
{
    if (s.clipping == Clipping::AbsMax || n == 0)
        return st.absMax;
    if (!s.symmetric)
        throw UsageError("scheme '" + s.name + "': " + std::string(clippingName(s.clipping))
            + " clipping is implemented for symmetric schemes only");
    switch (s.clipping) {
    case Clipping::Percentile: {
        // Linear interpolation between order statistics, computed in float32 as torch.quantile
        // does (rank = q * (n - 1), then lerp), so the clip matches it bit for bit.
        std::vector<float> magnitudes(values, values + n);
        for (auto& m : magnitudes)
            m = std::fabs(m);
        const float rank = static_cast<float>(s.percentile / 100.0) * static_cast<float>(n - 1);
        const auto lo = static_cast<std::size_t>(std::floor(rank));
        const auto hi = std::min(lo + 1, static_cast<std::size_t>(n - 1));
        std::nth_element(magnitudes.begin(), magnitudes.begin() + static_cast<std::ptrdiff_t>(lo), magnitudes.end());
        const float a = magnitudes[lo];
        const float b = hi == lo
            ? a
            : *std::min_element(magnitudes.begin() + static_cast<std::ptrdiff_t>(lo) + 1, magnitudes.end());
        const float w = rank - std::floor(rank);
        return w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
    }
    case Clipping::Sawb: {
        const double rms = std::sqrt(st.sumSquares / static_cast<double>(st.count));
        const double clip = 31.76 * rms - 35.04 * st.sumAbs / static_cast<double>(st.count);
        return clip > 0 ? static_cast<float>(clip) : st.absMax;
    }
    case Clipping::MseSearch: {
        // Candidates from abs-max down to 20% of it; the one with the least squared error wins.
        float best = st.absMax;
        double bestError = INFINITY;
        for (int k = 0; k <= 80; ++k) {
            UnitStats candidate = st;
            candidate.clip = st.absMax * (1.0f - 0.01f * static_cast<float>(k));
            if (!(candidate.clip > 0))
                break;
            const UnitParams p = unitParams(s, candidate);
            QuantScheme nearest = s;
            nearest.rounding = Rounding::NearestEven;
            double error = 0;
            for (std::int64_t i = 0; i < n && error < bestError; ++i) {
                const double e = values[i] - quantizeValue(nearest, p, values[i], 0).dequantized;
                error += e * e;
            }
            if (error < bestError) {
                bestError = error;
                best = candidate.clip;
            }
        }
        return best;
    }
    case Clipping::AbsMax:
        break;
    }
    return st.absMax;
}

} // namespace qs
