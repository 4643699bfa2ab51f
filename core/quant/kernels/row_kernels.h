// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Vectorised inner loops of the quantizer, on plain pointers (no libtorch, no Qt). The same
// source is compiled once per instruction set (generic x86-64, AVX2+FMA+F16C, AVX-512) and
// the best one the CPU supports is chosen at run time. Callers hand in chunks of at most
// kChunk elements that fit in L1, so partial sums in float lanes stay accurate; anything that
// could overflow a float lane is recomputed in double.
#include <cstdint>

namespace qs::kernels {

constexpr std::int64_t kChunk = 512;

enum class InputType : std::uint8_t
{
    F32,
    F64,
    F16,
    BF16,
};

// The per-element rule of a scale convention for integer codes with round half to even
// (see scheme_math.h quantizeValue, which is the scalar reference):
//   Nxd:               clamp(rne(x * inverse))                    (torch.quantize_per_channel)
//   CompressedTensors: rne(clamp(x / scale + zeroPoint))          (compressed-tensors quantize)
//   FmsMo:             rne(clamp(multiplier * x))                 (fms-mo, 127 / clip)
//   NanoGpt:           clamp(rne(x / scale) + zeroPoint)          (the nanoGPT fork)
enum class IntRule : std::uint8_t
{
    Nxd,
    CompressedTensors,
    FmsMo,
    NanoGpt,
};

// Rounding of the quotient x / scale (and of the sum with the zero point) to the weight's own
// dtype before clamping, as llm-compressor computes it for bf16 and fp16 models.
enum class QuotientRounding : std::uint8_t
{
    None,
    BF16,
    F16,
};

// The fp8 formats: e4m3fn (3 mantissa bits, bias 7) and e5m2 (2 mantissa bits, bias 15).
enum class Fp8Kind : std::uint8_t
{
    E4M3,
    E5M2,
};

struct IntUnit
{
    float scale = 1;
    float inverse = 1;
    float zeroPoint = 0;
    float multiplier = 1;
    float qmin = -128;
    float qmax = 127;
};

// Partial statistics of a run of values (min/max of finite values; `finite` false when any
// value is NaN or infinite).
struct RunStats
{
    float min = 3.4e38f;
    float max = -3.4e38f;
    float absMax = 0;
    double sumAbs = 0;
    double sumSquares = 0;
    bool finite = true;
};

// Partial sums for error metrics and for the moments of the codes.
struct RunError
{
    double signalEnergy = 0; // sum x^2
    double errorEnergy = 0; // sum (x - x')^2
    double reconstructedEnergy = 0; // sum x'^2
    double dot = 0; // sum x x'
    double maxAbsError = 0;
    double codeSum = 0;
    double codeSumSquares = 0;
};

struct Table
{
    const char* isa;
    // The input as float: returns `src` itself for F32, otherwise converts into `buffer`.
    const float* (*toFloat)(InputType type, const void* src, std::int64_t n, float* buffer);
    // Adds n values to `stats`.
    void (*stats)(const float* x, std::int64_t n, RunStats& stats);
    // Only absMax and finite (what symmetric abs-max schemes need), about three times cheaper.
    void (*absMax)(const float* x, std::int64_t n, RunStats& stats);
    // Writes n int8 codes; returns how many scaled values fell outside [qmin - 0.5, qmax + 0.5].
    std::int64_t (*quantizeInt)(IntRule rule, QuotientRounding rounding, const IntUnit& unit, const float* x,
        std::int64_t n, std::int8_t* codes);
    // fp8 codes of clamp(x / scale, -maxValue, maxValue) with round to nearest even (the torch
    // cast), x / scale rounded to the weight's dtype first when asked; `decoded` receives each
    // code's value. Returns how many |x / scale| exceeded maxValue.
    std::int64_t (*quantizeFp8)(Fp8Kind kind, QuotientRounding rounding, float scale, float maxValue, const float* x,
        std::int64_t n, std::uint8_t* codes, float* decoded);
    // Adds the error of decoded * scale against x, and the moments of the decoded codes.
    void (*measureDecoded)(const float* x, const float* decoded, std::int64_t n, float scale, RunError& error);
    // Adds the error of (code - zeroPoint) * scale against x, and the moments of the codes.
    void (*measureInt)(
        const float* x, const std::int8_t* codes, std::int64_t n, float scale, float zeroPoint, RunError& error);
    // out = (code - zeroPoint) * scale.
    void (*dequantizeInt)(const std::int8_t* codes, std::int64_t n, float scale, float zeroPoint, float* out);
};

// The fastest table this CPU runs (QS_KERNELS=generic|avx2|avx512 in the environment forces
// one, for tests and benchmarks).
const Table& best();
// Every table this CPU can run, generic first.
int availableTables(const Table* out[], int capacity);

} // namespace qs::kernels
