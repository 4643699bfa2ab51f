// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "quant/error_metrics.h"

#include <ATen/core/Tensor.h>

namespace qs {

// The codes and scales of a weight quantized per output channel (dimension 0).
struct QuantizedTensor
{
    at::Tensor codes; // int8, the weight's shape
    at::Tensor scale; // float32, [out, 1]
};

// Symmetric per-channel int8 exactly as AWS Neuron NxD computes it (PerChannelAbsMaxObserver
// followed by torch's quantize_per_channel):
//   scale[c] = max(absmax(row c) / 127, FLT_EPSILON)        in float32
//   q        = clamp(nearbyint(x * (1.0f / scale[c])), -128, 127)   (round half to even)
// Input: a floating tensor (F32, F16, BF16 or F64) with at least one dimension; every
// dimension after the first is flattened into the row. One fused pass per row, parallel
// over rows, with no full-size float temporaries. When `metrics` is given, the error of the
// dequantized weight (codes * scale) against the input is measured in the same pass.
// Throws FormatError when a row holds NaN or infinity.
QuantizedTensor quantizeInt8PerChannelNxd(const at::Tensor& weight, ErrorMetrics* metrics = nullptr);

// codes * scale per row, as float32.
at::Tensor dequantizeInt8PerChannel(const QuantizedTensor& q);

} // namespace qs
