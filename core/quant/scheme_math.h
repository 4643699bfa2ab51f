// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The per-unit and per-element formulas of each scale convention, as plain inline functions
// (no libtorch): the quantizer calls them in its inner loop, and tests check them directly.
#include "quant/fp8.h"
#include "quant/kernels/float_rounding.h"
#include "quant/kernels/row_kernels.h"
#include "quant/quant_scheme.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>

namespace qs {

// Running statistics of one unit (a tensor, a row, or a group).
struct UnitStats
{
    float min = INFINITY;
    float max = -INFINITY;
    float absMax = 0;
    double sumAbs = 0;
    double sumSquares = 0;
    std::int64_t count = 0;
    bool finite = true;
    // The magnitude that maps to the largest code when clipping is not absmax (percentile, MSE
    // search, SAWB); negative means "use absMax".
    float clip = -1;

    void add(float v)
    {
        if (!std::isfinite(v)) {
            finite = false;
            return;
        }
        min = std::min(min, v);
        max = std::max(max, v);
        absMax = std::max(absMax, std::fabs(v));
        sumAbs += std::fabs(v);
        sumSquares += static_cast<double>(v) * v;
        ++count;
    }
    void merge(const UnitStats& o)
    {
        min = std::min(min, o.min);
        max = std::max(max, o.max);
        absMax = std::max(absMax, o.absMax);
        sumAbs += o.sumAbs;
        sumSquares += o.sumSquares;
        count += o.count;
        finite = finite && o.finite;
    }
};

// What one unit's elements are quantized with.
struct UnitParams
{
    float scale = 1; // dequantization multiplier
    float inverse = 1; // NxD multiplies by 1/scale (torch.quantize_per_channel)
    float zeroPoint = 0;
    float multiplier = 1; // fms-mo: 127 / clip; nanoGPT stochastic: the norm max|x|
    float qmin = 0; // the scheme's code range, computed once per unit rather than per element
    float qmax = 0;
    // compressed-tensors weight-dtype math: x / scale (+ zero point) rounded to bf16/fp16.
    kernels::QuotientRounding quotientRounding = kernels::QuotientRounding::None;
};

// Rounds to bf16 or fp16 (or not at all).
inline float roundTo(kernels::QuotientRounding r, float v)
{
    switch (r) {
    case kernels::QuotientRounding::BF16:
        return kernels::roundToBf16(v);
    case kernels::QuotientRounding::F16:
        return kernels::roundToF16(v);
    case kernels::QuotientRounding::None:
        break;
    }
    return v;
}

// Scale and zero point of a unit, by convention. Throws FormatError where the consumer itself
// would divide by zero and the scheme asks to reproduce it (nanoGPT quirks). `weightDtype`
// is the rounding of the weight's dtype (bf16/fp16), used when the scheme asks for
// weight-dtype math (compressed-tensors); None for float32 weights.
UnitParams unitParams(const QuantScheme& scheme, const UnitStats& stats,
    kernels::QuotientRounding weightDtype = kernels::QuotientRounding::None);

// The clip of a unit whose values are `values` (n of them) for percentile, MSE-search or SAWB
// clipping; stats.absMax for absmax. Symmetric schemes only (UsageError otherwise).
float chooseClip(const QuantScheme& scheme, const UnitStats& stats, const float* values, std::int64_t n);

struct QuantizedValue
{
    std::uint8_t code; // int8 bit pattern, or an fp8 code
    float dequantized;
    bool clipped;
};

// Uniform [0, 1) from (seed, element index): reproducible whatever the thread split.
inline float uniformAt(std::uint64_t seed, std::uint64_t index)
{
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

inline std::uint8_t int8Bits(int code)
{
    return static_cast<std::uint8_t>(static_cast<std::int8_t>(code));
}

// One element. `index` feeds stochastic rounding.
inline QuantizedValue quantizeValue(const QuantScheme& s, const UnitParams& p, float x, std::uint64_t index)
{
    const float qmin = p.qmin;
    const float qmax = p.qmax;
    if (s.format == QuantFormat::Fp8E4M3 || s.format == QuantFormat::Fp8E5M2) {
        const float m = static_cast<float>(s.fp8Max);
        const float v = roundTo(p.quotientRounding, x / p.scale);
        const Fp8Format f = s.format == QuantFormat::Fp8E4M3 ? Fp8Format::E4M3 : Fp8Format::E5M2;
        const std::uint8_t code = floatToFp8(f, std::clamp(v, -m, m));
        return { code, fp8ToFloat(f, code) * p.scale, std::fabs(v) > m * (1.0f + 1e-6f) }; // abs-max lands on m
    }
    if (s.convention == ScaleConvention::NanoGpt && s.rounding == Rounding::Stochastic) {
        // The fork: l = |x| / norm * levels, floor + Bernoulli(fraction), signed.
        const float levels = s.nanogptQuirks ? static_cast<float>((1 << s.bits) - 1) : qmax;
        const float l = std::fabs(x) / p.multiplier * levels; // multiplier holds norm = max|x|
        const float fl = std::trunc(l);
        const float xi = fl + (uniformAt(s.seed, index) < std::clamp(l - fl, 0.0f, 1.0f) ? 1.0f : 0.0f);
        const int code = static_cast<int>(x < 0 ? -xi : x > 0 ? xi : 0.0f);
        // With quirks, magnitudes above 127 wrap like the fork's int8 cast.
        // NOLINTNEXTLINE(bugprone-signed-char-misuse): the wrap-around is the point
        const int stored = static_cast<std::int8_t>(static_cast<std::uint8_t>(code & 0xFF));
        return { int8Bits(stored), static_cast<float>(stored) * p.scale, false };
    }
    float v;
    float code;
    switch (s.convention) {
    case ScaleConvention::Nxd:
        v = x * p.inverse;
        code = std::clamp(std::nearbyint(v), qmin, qmax);
        break;
    case ScaleConvention::CompressedTensors:
        v = roundTo(p.quotientRounding, roundTo(p.quotientRounding, x / p.scale) + p.zeroPoint);
        code = s.rounding == Rounding::Stochastic ? std::floor(std::clamp(v, qmin, qmax) + uniformAt(s.seed, index))
                                                  : std::nearbyint(std::clamp(v, qmin, qmax));
        code = std::clamp(code, qmin, qmax);
        break;
    case ScaleConvention::FmsMo:
        v = p.multiplier * x;
        code = std::nearbyint(std::clamp(v, qmin, qmax));
        break;
    case ScaleConvention::NanoGpt:
    default:
        v = x / p.scale;
        code = std::clamp(std::nearbyint(v) + p.zeroPoint, qmin, qmax);
        v += p.zeroPoint;
        break;
    }
    if (s.rounding == Rounding::Stochastic && s.convention != ScaleConvention::CompressedTensors)
        code = std::clamp(std::floor(v + uniformAt(s.seed, index)), qmin, qmax);
    return { int8Bits(static_cast<int>(code)), (code - p.zeroPoint) * p.scale, v < qmin - 0.5f || v > qmax + 0.5f };
}

} // namespace qs
