// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The JSON of `quantscope-cli stats`: one object per tensor (field names are a contract).
#include <nlohmann/json.hpp>

namespace qs {
struct TensorAnalysis;
struct TensorComparison;
struct TensorStatistics;
} // namespace qs

namespace qs::cli {

struct StatsJsonOptions
{
    bool histogram = false; // "histogram" and "codes" with their counts
    bool channels = false; // "channels": per-channel min, max, mean, std, abs_max
};

// {"count", "min", "max", "mean", "std", "kurtosis", "zeros", "sparsity", "non_finite",
//  "outliers", "outlier_share", "outlier_sigmas", "percentiles": {"p0.1", ..., "p99.9"}}
nlohmann::ordered_json statisticsJson(const TensorStatistics& s);

// {"name", "dtype", "shape", "stored_quantization"?, <statisticsJson>, "outlier_channels",
//  "histogram"?, "channels"?, "quantized", and when quantized: "scheme", "mse", "sqnr_db",
//  "cosine", "max_abs_error", "clipped_fraction", "scale_min", "scale_max", "code_std" [per
//  channel], "code_std_min", "channels_below_threshold", "code_std_before"?,
//  "recomputed_rows", "codes"?}
nlohmann::ordered_json analysisJson(const TensorAnalysis& a, const StatsJsonOptions& options);

// {"name_b", "shape_b", "dtype_b", "stored_quantization_b", "stats_b": {...}, "same_shape",
//  "difference": {"mse", "sqnr_db", "cosine", "max_abs_error"}?, "histograms"?}
nlohmann::ordered_json comparisonJson(const TensorComparison& c, const StatsJsonOptions& options);

} // namespace qs::cli
