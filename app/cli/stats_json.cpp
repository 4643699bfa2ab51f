// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats_json.h"

#include "stats/tensor_analysis.h"
#include "stats/tensor_comparison.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace qs::cli {
namespace {

// JSON has no infinity or NaN: they become null.
nlohmann::ordered_json number(double v)
{
    return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

std::string percentKey(double p)
{
    std::ostringstream s;
    s << "p" << p;
    return s.str();
}

nlohmann::ordered_json histogramJson(const Histogram& h)
{
    return { { "lo", h.lo }, { "hi", h.hi }, { "counts", h.counts }, { "below", h.below }, { "above", h.above },
        { "non_finite", h.nonFinite } };
}

nlohmann::ordered_json errorJson(const ErrorMetrics& e)
{
    return { { "mse", number(e.mse) }, { "sqnr_db", number(e.sqnrDb) }, { "cosine", number(e.cosine) },
        { "max_abs_error", number(e.maxAbsError) } };
}

std::vector<nlohmann::ordered_json> numbers(const std::vector<float>& v)
{
    std::vector<nlohmann::ordered_json> out;
    out.reserve(v.size());
    for (float x : v)
        out.push_back(number(x));
    return out;
}

} // namespace

nlohmann::ordered_json statisticsJson(const TensorStatistics& s)
{
    // Without a finite value there is no min, max or moment: null, not 0.
    const double none = std::numeric_limits<double>::quiet_NaN();
    const bool any = s.count > 0;
    nlohmann::ordered_json j { { "count", s.count }, { "min", number(any ? s.min : none) },
        { "max", number(any ? s.max : none) }, { "mean", number(any ? s.mean : none) },
        { "std", number(any ? s.std : none) }, { "kurtosis", number(any ? s.kurtosis : none) }, { "zeros", s.zeros },
        { "sparsity", s.sparsity() }, { "non_finite", s.nonFinite }, { "outliers", s.outliers },
        { "outlier_share", s.outlierShare() }, { "outlier_sigmas", s.outlierSigmas } };
    nlohmann::ordered_json p = nlohmann::ordered_json::object();
    for (const Percentile& q : s.percentiles)
        p[percentKey(q.percent)] = number(q.value);
    j["percentiles"] = p;
    return j;
}

nlohmann::ordered_json analysisJson(const TensorAnalysis& a, const StatsJsonOptions& options)
{
    nlohmann::ordered_json j { { "name", a.info.name }, { "dtype", std::string(dtypeName(a.info.dtype)) },
        { "shape", a.info.shape } };
    if (!a.storedQuantization.empty())
        j["stored_quantization"] = a.storedQuantization;
    if (!a.storedScheme.empty())
        j["stored_scheme"] = { { "scheme", a.storedScheme }, { "basis", a.storedSchemeBasis } };
    if (!a.storedCodes.empty())
        j["stored_codes"] = { { "tensor", a.storedCodes }, { "sqnr_db", number(a.storedError.sqnrDb) },
            { "max_abs_error", number(a.storedError.maxAbsError) }, { "cosine", number(a.storedError.cosine) } };
    j.update(statisticsJson(a.summary));
    j["outlier_channels"] = countOutlierChannels(a.channels);
    if (options.histogram)
        j["histogram"] = histogramJson(a.original);
    if (options.channels) {
        j["channels"] = { { "min", numbers(a.channels.min) }, { "max", numbers(a.channels.max) },
            { "mean", numbers(a.channels.mean) }, { "std", numbers(a.channels.std) },
            { "abs_max", numbers(a.channels.absMax) } };
    }
    if (!a.note.empty())
        j["note"] = a.note;
    j["quantized"] = a.quantized;
    if (!a.quantized)
        return j;
    j["scheme"] = a.schemeName;
    j.update(errorJson(a.error));
    j["clipped_fraction"] = a.clippedFraction;
    j["scale_min"] = number(a.scaleMin);
    j["scale_max"] = number(a.scaleMax);
    const auto& cs = a.channels.codeStd;
    j["code_std"] = numbers(cs);
    j["code_std_min"] = cs.empty() ? nlohmann::ordered_json(nullptr) : number(*std::min_element(cs.begin(), cs.end()));
    j["channels_below_threshold"] = countBelow(cs);
    j["threshold"] = kNarrowStdThreshold;
    if (!a.channels.codeStdBefore.empty()) {
        j["code_std_before"] = numbers(a.channels.codeStdBefore);
        j["channels_below_threshold_before"] = countBelow(a.channels.codeStdBefore);
    }
    j["recomputed_rows"] = a.recomputedRows;
    if (options.histogram) {
        j["dequantized_histogram"] = histogramJson(a.dequantized);
        j["codes"] = { { "levels", a.codes.levels }, { "counts", a.codes.counts }, { "at_min", a.codes.atMin },
            { "at_max", a.codes.atMax } };
    }
    return j;
}

nlohmann::ordered_json comparisonJson(const TensorComparison& c, const StatsJsonOptions& options)
{
    nlohmann::ordered_json j { { "shape_b", c.shapeB }, { "dtype_b", c.dtypeB } };
    if (!c.storedB.empty())
        j["stored_quantization_b"] = c.storedB;
    j["stats_b"] = statisticsJson(c.b);
    j["same_shape"] = c.sameShape;
    if (c.sameShape)
        j["difference"] = errorJson(c.difference);
    if (options.histogram)
        j["histograms"] = { { "a", histogramJson(c.histogramA) }, { "b", histogramJson(c.histogramB) } };
    return j;
}

} // namespace qs::cli
