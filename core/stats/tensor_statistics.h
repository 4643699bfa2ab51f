// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Plain-data descriptions of a tensor's values for the analysis views (no libtorch, no Qt):
// what widgets/ draws and what `quantscope-cli stats` prints. Computed in core/stats.
#include <cstdint>
#include <string>
#include <vector>

namespace qs {

struct Percentile
{
    double percent = 0; // 0..100
    double value = 0; // numpy.percentile's default (linear) interpolation between order statistics
};

// The distribution of a tensor's values. Moments are computed in double.
struct TensorStatistics
{
    std::int64_t count = 0;
    double min = 0;
    double max = 0;
    double mean = 0;
    double std = 0; // unbiased (ddof = 1), as torch.std
    double kurtosis = 0; // excess kurtosis (Fisher, biased, as scipy.stats.kurtosis): 0 for a Gaussian
    std::int64_t zeros = 0; // values exactly 0 (sparsity)
    std::int64_t nonFinite = 0; // NaN and infinities: left out of every other number
    double outlierSigmas = 6; // an outlier lies more than this many std from the mean
    std::int64_t outliers = 0;
    std::vector<Percentile> percentiles;

    double sparsity() const { return count > 0 ? static_cast<double>(zeros) / static_cast<double>(count) : 0.0; }
    double outlierShare() const { return count > 0 ? static_cast<double>(outliers) / static_cast<double>(count) : 0.0; }
    // The value of a requested percentile, NaN when it was not computed.
    double percentile(double percent) const;
};

// The percentiles the views and the CLI report.
std::vector<double> defaultPercentiles();

// How often each code of a quantized tensor is used: bars at the integer levels (or at the
// values of the fp8 codes), with the counts at the ends of the range (saturation).
struct CodeHistogram
{
    bool fp8 = false;
    std::vector<double> levels; // ascending: qmin..qmax for int codes, the finite fp8 values
    std::vector<std::int64_t> counts; // same length as levels
    std::int64_t atMin = 0; // codes equal to the lowest level (int: qmin; fp8: -max)
    std::int64_t atMax = 0; // codes equal to the highest level
    double clippedFraction = 0; // values that fell outside the range before clamping
    std::int64_t total() const;
};

// Per output channel (row of the [rows, cols] view of a weight). All vectors have `rows`
// entries (codeStd* are empty when the tensor is not quantized).
struct ChannelStatistics
{
    std::vector<float> min;
    std::vector<float> max;
    std::vector<float> mean;
    std::vector<float> std; // unbiased
    std::vector<float> absMax;
    // Unbiased std of the int codes of each row, before and after narrow-weight recomputation
    // (fms-mo); `codeStdBefore` is empty when the scheme does not recompute.
    std::vector<float> codeStd;
    std::vector<float> codeStdBefore;
    std::int64_t size() const { return static_cast<std::int64_t>(mean.size()); }
};

constexpr double kOutlierChannelFactor = 3.0;
constexpr double kNarrowStdThreshold = 20.0;

// Channels whose abs-max exceeds `factor` times the median channel abs-max: the rows that
// dominate a per-tensor scale.
std::int64_t countOutlierChannels(const ChannelStatistics& channels, double factor = kOutlierChannelFactor);
// Channels whose code std lies below `threshold` (fms-mo asks for at least 20 with int8).
std::int64_t countBelow(const std::vector<float>& codeStd, double threshold = kNarrowStdThreshold);

enum class HeatmapReduction : std::uint8_t
{
    AbsMax, // the value of largest magnitude in each block, with its sign
    Mean,
};

enum class HeatmapField : std::uint8_t
{
    Values, // the tensor's float values
    Error, // float minus dequantized (needs a scheme)
};

// A window of a [rows, cols] matrix reduced to at most outRows x outCols cells; each cell
// covers a block of blockRows x blockCols elements (the last ones may be smaller).
struct Heatmap
{
    std::int64_t rows = 0; // the full matrix
    std::int64_t cols = 0;
    std::int64_t rowBegin = 0; // the window, [begin, end)
    std::int64_t rowEnd = 0;
    std::int64_t colBegin = 0;
    std::int64_t colEnd = 0;
    int outRows = 0;
    int outCols = 0;
    std::int64_t blockRows = 1;
    std::int64_t blockCols = 1;
    HeatmapReduction reduction = HeatmapReduction::AbsMax;
    HeatmapField field = HeatmapField::Values;
    std::vector<float> values; // outRows x outCols, row-major
    float minValue = 0;
    float maxValue = 0;
    bool empty() const { return values.empty(); }
    float at(int r, int c) const { return values[static_cast<std::size_t>(r) * outCols + c]; }
};

const char* heatmapReductionName(HeatmapReduction r); // "absmax", "mean"
const char* heatmapFieldName(HeatmapField f); // "values", "error"

} // namespace qs
