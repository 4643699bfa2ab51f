// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/tensor_statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qs {

double TensorStatistics::percentile(double percent) const
{
    for (const auto& p : percentiles) {
        if (p.percent == percent)
            return p.value;
    }
    return std::numeric_limits<double>::quiet_NaN();
}

std::vector<double> defaultPercentiles()
{
    return { 0.1, 1, 5, 25, 50, 75, 95, 99, 99.9 };
}

std::int64_t CodeHistogram::total() const
{
    std::int64_t n = 0;
    for (auto c : counts)
        n += c;
    return n;
}

std::int64_t countOutlierChannels(const ChannelStatistics& channels, double factor)
{
    if (channels.absMax.empty())
        return 0;
    std::vector<float> sorted = channels.absMax;
    const std::size_t mid = sorted.size() / 2;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(mid), sorted.end());
    const double median = sorted[mid];
    std::int64_t n = 0;
    for (float a : channels.absMax) {
        if (a > factor * median)
            ++n;
    }
    return n;
}

std::int64_t countBelow(const std::vector<float>& codeStd, double threshold)
{
    return std::count_if(codeStd.begin(), codeStd.end(), [threshold](float s) { return s < threshold; });
}

const char* heatmapReductionName(HeatmapReduction r)
{
    return r == HeatmapReduction::Mean ? "mean" : "absmax";
}

const char* heatmapFieldName(HeatmapField f)
{
    return f == HeatmapField::Error ? "error" : "values";
}

} // namespace qs
