// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The distribution of a tensor's values: statistics, histogram, exact percentiles and
// per-channel ranges, computed in parallel passes over the (mapped) tensor without a
// full-size float copy. What the histogram view, the layer table and `stats` are built on.
#include "jobs/progress.h"
#include "stats/histogram.h"
#include "stats/tensor_statistics.h"

#include <vector>

namespace at {
class Tensor;
}

namespace qs {

struct DistributionOptions
{
    int bins = 200; // of the histogram; 0 for none
    // Over [rangeLo, rangeHi] when rangeHi > rangeLo (to compare two tensors on the same bins),
    // otherwise over the tensor's own [min, max].
    double rangeLo = 0;
    double rangeHi = 0;
    std::vector<double> percentiles = defaultPercentiles(); // exact, numpy's linear interpolation
    double outlierSigmas = 6;
    bool perChannel = true; // fill Distribution::channels (rows = dimension 0)
    CancelToken cancel; // polled between blocks; CancelledError when set
};

struct Distribution
{
    TensorStatistics stats;
    Histogram histogram;
    ChannelStatistics channels; // min, max, mean, std, absMax per row (codeStd left empty)
};

// `values`: any floating tensor (F32, F64, F16, BF16: read in place, converted per chunk) or
// an integer/bool one (converted once). Rows are the slices along dimension 0; a 0-D or 1-D
// tensor is one row. NaN and infinities are counted in stats.nonFinite and left out of the
// statistics; the histogram counts infinities below/above and NaN as nonFinite, as
// HistogramBuilder does. F64 values are measured as floats.
// Three passes: moments and per-row ranges; histogram (fine bins, from which the requested
// bins are summed) and outliers; then the few values around each requested percentile.
Distribution measureDistribution(const at::Tensor& values, const DistributionOptions& options = {});

} // namespace qs
