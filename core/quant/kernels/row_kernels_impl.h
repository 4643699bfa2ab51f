// SPDX-License-Identifier: GPL-3.0-or-later
// The kernels of row_kernels.h, written so that GCC vectorises them for whatever instruction
// set the including translation unit is compiled for: fixed-width lane arrays for reductions
// (no -ffast-math needed), branch-free selects, and no calls in the loops. Each
// row_kernels_<isa>.cpp defines QS_KERNEL_ISA and includes this file once.
//
// Exactness: these TUs are compiled with -ffp-contract=off, so a * b + c is never fused and
// every value equals the one the scalar reference (scheme_math.h) computes.
#include "quant/kernels/float_rounding.h"
#include "quant/kernels/row_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#ifndef QS_KERNEL_ISA
#error "define QS_KERNEL_ISA before including row_kernels_impl.h"
#endif

// Included by exactly one translation unit per instruction set, so its definitions are no ODR
// risk; the rules' separate branches document each consumer's formula even where two agree.
// NOLINTBEGIN(misc-definitions-in-headers, bugprone-branch-clone)
namespace qs::kernels::QS_KERNEL_ISA {
namespace {

// GCC vector types as wide as one register of the instruction set: 16 floats with AVX-512, 8
// with AVX2, 4 otherwise. Reductions keep one partial per lane and add the lanes at the end.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX2__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif

typedef float VF __attribute__((vector_size(4 * kLanes)));
typedef std::int32_t VI __attribute__((vector_size(4 * kLanes)));
typedef std::int8_t VB __attribute__((vector_size(kLanes)));
static_assert(sizeof(VB) >= 4, "int8 vectors of at least 4 lanes");

inline VF splat(float v)
{
    return VF {} + v;
}

inline VF load(const float* p)
{
    VF v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline VF vabs(VF v)
{
    VI bits;
    std::memcpy(&bits, &v, sizeof v);
    bits &= 0x7FFFFFFF;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}

const float* toFloat(InputType type, const void* src, std::int64_t n, float* out)
{
    switch (type) {
    case InputType::F32:
        return static_cast<const float*>(src);
    case InputType::F64: {
        const auto* in = static_cast<const double*>(src);
        for (std::int64_t j = 0; j < n; ++j)
            out[j] = static_cast<float>(in[j]);
        return out;
    }
    case InputType::BF16: {
        const auto* in = static_cast<const std::uint16_t*>(src);
        for (std::int64_t j = 0; j < n; ++j)
            out[j] = bitsToFloat(static_cast<std::uint32_t>(in[j]) << 16);
        return out;
    }
    case InputType::F16: {
        const auto* in = static_cast<const std::uint16_t*>(src);
        std::int64_t j = 0;
#if defined(__F16C__)
        for (; j + 8 <= n; j += 8) {
            const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + j));
            _mm256_storeu_ps(out + j, _mm256_cvtph_ps(h));
        }
#endif
        for (; j < n; ++j)
            out[j] = halfToFloat(in[j]);
        return out;
    }
    }
    return out;
}

void stats(const float* x, std::int64_t n, RunStats& s)
{
    VF mn = splat(3.4e38f), mx = splat(-3.4e38f), am = splat(0.0f), sa = splat(0.0f), ss = splat(0.0f);
    VI bad = VI {};
    const VF big = splat(3.40282347e38f);
    std::int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) {
        const VF v = load(x + j);
        const VF a = vabs(v);
        bad |= ~(a <= big); // NaN and infinity
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        am = a > am ? a : am;
        sa += a;
        ss += v * v;
    }
    float fmn = 3.4e38f, fmx = -3.4e38f, fam = 0.0f;
    double sumAbs = 0, sumSquares = 0;
    bool finite = true;
    for (int l = 0; l < kLanes; ++l) {
        finite = finite && bad[l] == 0;
        fmn = std::min(fmn, mn[l]);
        fmx = std::max(fmx, mx[l]);
        fam = std::max(fam, am[l]);
        sumAbs += sa[l];
        sumSquares += ss[l];
    }
    for (; j < n; ++j) {
        const float v = x[j];
        const float a = std::fabs(v);
        finite = finite && a <= 3.40282347e38f;
        fmn = std::min(fmn, v);
        fmx = std::max(fmx, v);
        fam = std::max(fam, a);
        sumAbs += a;
        sumSquares += static_cast<double>(v) * v;
    }
    if (!std::isfinite(sumSquares) || !std::isfinite(sumAbs)) { // float lanes overflowed: redo in double
        sumAbs = sumSquares = 0;
        for (std::int64_t k = 0; k < n; ++k) {
            sumAbs += std::fabs(static_cast<double>(x[k]));
            sumSquares += static_cast<double>(x[k]) * x[k];
        }
    }
    s.finite = s.finite && finite;
    s.min = std::min(s.min, fmn);
    s.max = std::max(s.max, fmx);
    s.absMax = std::max(s.absMax, fam);
    s.sumAbs += sumAbs;
    s.sumSquares += sumSquares;
}

void absMax(const float* x, std::int64_t n, RunStats& s)
{
    VF am = splat(0.0f);
    VI bad = VI {};
    const VF big = splat(3.40282347e38f);
    std::int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) {
        const VF a = vabs(load(x + j));
        bad |= ~(a <= big); // NaN and infinity
        am = a > am ? a : am;
    }
    float fam = 0.0f;
    bool finite = true;
    for (int l = 0; l < kLanes; ++l) {
        finite = finite && bad[l] == 0;
        fam = std::max(fam, am[l]);
    }
    for (; j < n; ++j) {
        const float a = std::fabs(x[j]);
        finite = finite && a <= 3.40282347e38f;
        fam = std::max(fam, a);
    }
    s.finite = s.finite && finite;
    s.absMax = std::max(s.absMax, fam);
}

template <IntRule R, QuotientRounding Q> inline float scaled(const IntUnit& u, float x)
{
    if constexpr (R == IntRule::Nxd)
        return x * u.inverse;
    else if constexpr (R == IntRule::FmsMo)
        return u.multiplier * x;
    else if constexpr (R == IntRule::NanoGpt)
        return x / u.scale + u.zeroPoint;
    else if constexpr (Q == QuotientRounding::BF16)
        return roundToBf16(roundToBf16(x / u.scale) + u.zeroPoint);
    else if constexpr (Q == QuotientRounding::F16)
        return roundToF16(roundToF16(x / u.scale) + u.zeroPoint);
    else
        return x / u.scale + u.zeroPoint;
}

template <IntRule R, QuotientRounding Q>
std::int64_t quantizeIntT(const IntUnit& u, const float* x, std::int64_t n, std::int8_t* codes)
{
    const float lo = u.qmin, hi = u.qmax;
    const float loEdge = lo - 0.5f, hiEdge = hi + 0.5f;
    int clipped = 0;
    for (std::int64_t j = 0; j < n; ++j) {
        const float v = scaled<R, Q>(u, x[j]);
        clipped += (v < loEdge) | (v > hiEdge);
        float c = v < lo ? lo : v;
        c = c > hi ? hi : c;
        codes[j] = static_cast<std::int8_t>(static_cast<int>(roundHalfEven(c)));
    }
    return clipped;
}

template <IntRule R>
std::int64_t quantizeIntRule(QuotientRounding q, const IntUnit& u, const float* x, std::int64_t n, std::int8_t* codes)
{
    switch (q) {
    case QuotientRounding::BF16:
        return quantizeIntT<R, QuotientRounding::BF16>(u, x, n, codes);
    case QuotientRounding::F16:
        return quantizeIntT<R, QuotientRounding::F16>(u, x, n, codes);
    case QuotientRounding::None:
        break;
    }
    return quantizeIntT<R, QuotientRounding::None>(u, x, n, codes);
}

std::int64_t quantizeInt(
    IntRule rule, QuotientRounding q, const IntUnit& u, const float* x, std::int64_t n, std::int8_t* codes)
{
    std::int64_t clipped = 0;
    for (std::int64_t off = 0; off < n; off += kChunk) { // keeps the int counter from overflowing
        const std::int64_t m = std::min(kChunk, n - off);
        switch (rule) {
        case IntRule::Nxd:
            clipped += quantizeIntT<IntRule::Nxd, QuotientRounding::None>(u, x + off, m, codes + off);
            break;
        case IntRule::FmsMo:
            clipped += quantizeIntT<IntRule::FmsMo, QuotientRounding::None>(u, x + off, m, codes + off);
            break;
        case IntRule::NanoGpt:
            clipped += quantizeIntT<IntRule::NanoGpt, QuotientRounding::None>(u, x + off, m, codes + off);
            break;
        case IntRule::CompressedTensors:
            clipped += quantizeIntRule<IntRule::CompressedTensors>(q, u, x + off, m, codes + off);
            break;
        }
    }
    return clipped;
}

// Codes are int8 values or decoded fp8 values (floats).
inline VF loadCodes(const std::int8_t* p)
{
    VB b;
    std::memcpy(&b, p, sizeof b);
    return __builtin_convertvector(b, VF);
}

inline VF loadCodes(const float* p)
{
    return load(p);
}

template <typename Code>
void measureChunk(const float* x, const Code* codes, std::int64_t n, float scale, float zp, RunError& r)
{
    VF sig = splat(0.0f), err = sig, rec = sig, dot = sig, mae = sig, cs = sig, css = sig;
    const VF vs = splat(scale), vz = splat(zp);
    std::int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) {
        const VF c = loadCodes(codes + j);
        const VF v = load(x + j);
        const VF d = (c - vz) * vs;
        const VF e = v - d;
        const VF a = vabs(e);
        sig += v * v;
        err += e * e;
        rec += d * d;
        dot += v * d;
        mae = a > mae ? a : mae;
        cs += c;
        css += c * c;
    }
    RunError part;
    for (int l = 0; l < kLanes; ++l) {
        part.signalEnergy += sig[l];
        part.errorEnergy += err[l];
        part.reconstructedEnergy += rec[l];
        part.dot += dot[l];
        part.maxAbsError = std::max(part.maxAbsError, static_cast<double>(mae[l]));
        part.codeSum += cs[l];
        part.codeSumSquares += css[l];
    }
    for (; j < n; ++j) {
        const float c = static_cast<float>(codes[j]);
        const float d = (c - zp) * scale;
        const double v = x[j];
        part.signalEnergy += v * v;
        part.errorEnergy += (v - d) * (v - d);
        part.reconstructedEnergy += static_cast<double>(d) * d;
        part.dot += v * d;
        part.maxAbsError = std::max(part.maxAbsError, static_cast<double>(std::fabs(x[j] - d)));
        part.codeSum += c;
        part.codeSumSquares += static_cast<double>(c) * c;
    }
    if (!std::isfinite(part.signalEnergy) || !std::isfinite(part.reconstructedEnergy)
        || !std::isfinite(part.errorEnergy) || !std::isfinite(part.dot)) { // huge values: redo in double
        part.signalEnergy = part.errorEnergy = part.reconstructedEnergy = part.dot = part.maxAbsError = 0;
        for (std::int64_t k = 0; k < n; ++k) {
            const double v = x[k];
            const double d = static_cast<double>((static_cast<float>(codes[k]) - zp) * scale);
            part.signalEnergy += v * v;
            part.errorEnergy += (v - d) * (v - d);
            part.reconstructedEnergy += d * d;
            part.dot += v * d;
            part.maxAbsError = std::max(part.maxAbsError, std::fabs(v - d));
        }
    }
    r.signalEnergy += part.signalEnergy;
    r.errorEnergy += part.errorEnergy;
    r.reconstructedEnergy += part.reconstructedEnergy;
    r.dot += part.dot;
    r.maxAbsError = std::max(r.maxAbsError, part.maxAbsError);
    r.codeSum += part.codeSum;
    r.codeSumSquares += part.codeSumSquares;
}

void measureInt(const float* x, const std::int8_t* codes, std::int64_t n, float scale, float zp, RunError& r)
{
    for (std::int64_t off = 0; off < n; off += kChunk)
        measureChunk(x + off, codes + off, std::min(kChunk, n - off), scale, zp, r);
}

void measureDecoded(const float* x, const float* decoded, std::int64_t n, float scale, RunError& r)
{
    for (std::int64_t off = 0; off < n; off += kChunk)
        measureChunk(x + off, decoded + off, std::min(kChunk, n - off), scale, 0.0f, r);
}

// Round to nearest even into an fp8 format with M mantissa bits and exponent bias B, branch-free:
// normals round the float's mantissa to M bits (a carry moves into the exponent); values below
// the smallest normal are multiples of 2^(1-B-M), and the smallest normal itself is code 2^M
// either way. Inputs are clamped to the format's range first, so nothing overflows.
template <int M, int B, QuotientRounding Q>
std::int64_t quantizeFp8T(
    float scale, float maxValue, const float* x, std::int64_t n, std::uint8_t* codes, float* decoded)
{
    constexpr std::uint32_t kDrop = 23 - M;
    constexpr std::uint32_t kMinNormalBits = static_cast<std::uint32_t>(127 + 1 - B) << 23;
    const float subScale = std::ldexp(1.0f, B - 1 + M);
    const float subStep = std::ldexp(1.0f, -(B - 1 + M));
    const float edge = maxValue * (1.0f + 1e-6f);
    int clipped = 0;
    for (std::int64_t j = 0; j < n; ++j) {
        float v = x[j] / scale;
        if constexpr (Q == QuotientRounding::BF16)
            v = roundToBf16(v);
        else if constexpr (Q == QuotientRounding::F16)
            v = roundToF16(v);
        const float a = std::fabs(v);
        clipped += a > edge;
        const float c = a < maxValue ? a : maxValue;
        const std::uint32_t bits = floatToBits(c);
        const std::uint32_t rounded = bits + ((1u << (kDrop - 1)) - 1) + ((bits >> kDrop) & 1u);
        const std::uint32_t normalCode = (rounded >> kDrop) - (static_cast<std::uint32_t>(127 - B) << M);
        const float normalValue = bitsToFloat(rounded & ~((1u << kDrop) - 1));
        const float sub = roundHalfEven(c * subScale);
        const bool isSub = bits < kMinNormalBits;
        const std::uint32_t sign = floatToBits(v) & 0x80000000u;
        codes[j] = static_cast<std::uint8_t>((isSub ? static_cast<std::uint32_t>(sub) : normalCode) | (sign >> 24));
        decoded[j] = bitsToFloat(floatToBits(isSub ? sub * subStep : normalValue) | sign);
    }
    return clipped;
}

template <int M, int B>
std::int64_t quantizeFp8Rounding(QuotientRounding q, float scale, float maxValue, const float* x, std::int64_t n,
    std::uint8_t* codes, float* decoded)
{
    switch (q) {
    case QuotientRounding::BF16:
        return quantizeFp8T<M, B, QuotientRounding::BF16>(scale, maxValue, x, n, codes, decoded);
    case QuotientRounding::F16:
        return quantizeFp8T<M, B, QuotientRounding::F16>(scale, maxValue, x, n, codes, decoded);
    case QuotientRounding::None:
        break;
    }
    return quantizeFp8T<M, B, QuotientRounding::None>(scale, maxValue, x, n, codes, decoded);
}

std::int64_t quantizeFp8(Fp8Kind kind, QuotientRounding q, float scale, float maxValue, const float* x, std::int64_t n,
    std::uint8_t* codes, float* decoded)
{
    std::int64_t clipped = 0;
    for (std::int64_t off = 0; off < n; off += kChunk) {
        const std::int64_t m = std::min(kChunk, n - off);
        clipped += kind == Fp8Kind::E4M3
            ? quantizeFp8Rounding<3, 7>(q, scale, maxValue, x + off, m, codes + off, decoded + off)
            : quantizeFp8Rounding<2, 15>(q, scale, maxValue, x + off, m, codes + off, decoded + off);
    }
    return clipped;
}

void statsChunked(const float* x, std::int64_t n, RunStats& s)
{
    // Longer runs than kChunk: only sums of |x| and x^2 live in the float lanes here.
    constexpr std::int64_t kStatsChunk = 4 * kChunk;
    for (std::int64_t off = 0; off < n; off += kStatsChunk)
        stats(x + off, std::min(kStatsChunk, n - off), s);
}

void dequantizeInt(const std::int8_t* codes, std::int64_t n, float scale, float zp, float* out)
{
    for (std::int64_t j = 0; j < n; ++j)
        out[j] = (static_cast<float>(codes[j]) - zp) * scale;
}

} // namespace

const Table& table()
{
    static const Table t { QS_KERNEL_ISA_NAME, toFloat, statsChunked, absMax, quantizeInt, quantizeFp8, measureDecoded,
        measureInt, dequantizeInt };
    return t;
}

} // namespace qs::kernels::QS_KERNEL_ISA
// NOLINTEND(misc-definitions-in-headers, bugprone-branch-clone)
