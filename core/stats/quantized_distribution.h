// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What a quantized tensor looks like: the distribution of its dequantized values, how often
// each code is used, and where the clipping range lies. Computed from the codes and scales
// without materialising the dequantized tensor.
#include "stats/histogram.h"
#include "stats/tensor_statistics.h"

#include <vector>

namespace qs {

struct SchemeQuantized;

// The dequantized values ((code - zero point) * scale) binned over [lo, hi] with `bins`
// bins, as HistogramBuilder would bin them: each unit's (tensor, row or group) codes are
// counted first, then each used code's value is binned once.
Histogram dequantizedHistogram(const SchemeQuantized& q, double lo, double hi, int bins);

// The use of each code level: int codes qmin..qmax, or the finite fp8 values in ascending
// order; saturation counts at both ends.
CodeHistogram codeHistogramOf(const SchemeQuantized& q);

// The float values at which the codes saturate, as vertical lines for the histogram: per
// tensor the two ends of the range; per channel or group the widest and the narrowest range
// over the units (four lines, fewer when they coincide).
std::vector<double> clipLinesOf(const SchemeQuantized& q);

} // namespace qs
