// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"
#include "jobs/progress.h"
#include "quant/error_metrics.h"
#include "quant/quant_scheme.h"

#include <ATen/core/Tensor.h>


namespace qs {

// A weight quantized with a QuantScheme. The tensor is seen as [rows, cols]: rows are the
// slices along the channel axis (dimension 0 unless the scheme says otherwise), cols the rest.
struct SchemeQuantized
{
    QuantScheme scheme;
    std::vector<std::int64_t> shape; // the input's shape (channel axis moved first when it was not)
    DType codeType = DType::I8; // I8 for int and ternary codes, F8_E4M3 / F8_E5M2 for fp8
    at::Tensor codes; // int8 codes, or uint8 bytes holding fp8 codes; `shape`
    // The dequantization multiplier, float32: [] per tensor, [rows, 1] per channel, [rows,
    // groups] per group (the last group of a row may be shorter).
    at::Tensor scale;
    at::Tensor zeroPoint; // float32 like `scale` (integral for compressed-tensors); undefined when symmetric
    at::Tensor clip; // fms-mo only: the clip value (scale * 127) that its checkpoints store
    ErrorMetrics error; // of the dequantized weight against the input
    double clippedFraction = 0; // elements whose scaled value fell outside the code range
    // How often each code is used: int codes qmin..qmax (index code - qmin), or all 256 fp8 codes.
    std::vector<std::int64_t> codeHistogram;
    std::vector<float> codeStd; // unbiased std of the int codes of each row (fp8: of the code values)
    // Narrow-weight recomputation (fms-mo): the unbiased std of each row's int codes before and
    // after (one value per tensor when per-tensor), and how many rows took the SAWB clip.
    std::vector<float> codeStdBefore;
    std::vector<float> codeStdAfter;
    std::int64_t recomputedRows = 0;
};

// What quantizeWithScheme computes besides codes and scales, and how.
struct QuantizeOptions
{
    bool errorMetrics = true; // SchemeQuantized::error and codeStd
    bool codeHistogram = true; // SchemeQuantized::codeHistogram
    // Split the rows over at::parallel_for threads. A caller that already runs one tensor per
    // core (the conversion pool) turns this off.
    bool parallel = true;
    // Polled between rows (well under a millisecond apart); when set, the call stops and
    // throws CancelledError.
    CancelToken cancel;
};

// Quantizes a floating tensor (F32, F16, BF16, F64) with `scheme`, following its convention's
// formulas exactly (see QuantScheme). Per channel and per group it reads each row once: the
// row's statistics, its scales and its codes and error are computed while the row is in
// cache, by the vectorised kernels of kernels/row_kernels.h; per tensor it reads the input
// twice (statistics, then codes). Parallel over rows, no full-size float temporaries. Fp8,
// stochastic rounding and the nanoGPT quirks use the scalar reference (scheme_math.h).
// Policies: NaN or infinity -> FormatError naming the row; an all-zero unit gets the
// convention's floor (or FLT_EPSILON where the consumer has none) so its codes are 0, except
// with nanogptQuirks, where the fork would divide by zero -> FormatError.
// Clipping: absmax; percentile (of |x|, interpolated as torch.quantile); SAWB (31.76 rms -
// 35.04 mean|x|, abs-max when not positive); MSE search (81 clips from abs-max down to 20% of
// it, the least squared error wins). Non-absmax clipping is for symmetric schemes (UsageError
// otherwise); per tensor it needs a float copy of the tensor.
SchemeQuantized quantizeWithScheme(
    const at::Tensor& weight, const QuantScheme& scheme, const QuantizeOptions& options = {});

// Activations, [..., hidden]: with Granularity::Token each token (each row of the [tokens,
// hidden] view) gets its own scale, computed from its values as the consumer does at run time
// (dynamic per-token quantization); Tensor and Group granularity work as for weights. The
// result keeps the input's shape and names the token scheme.
SchemeQuantized quantizeActivations(const at::Tensor& x, const QuantScheme& scheme, const QuantizeOptions& options = {});

// (codes - zeroPoint) * scale as float32, in the input's shape; one fused pass.
at::Tensor dequantizeScheme(const SchemeQuantized& q);

} // namespace qs
