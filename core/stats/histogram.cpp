// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/histogram.h"

#include <algorithm>
#include <cmath>

namespace qs {

double Histogram::binWidth() const
{
    return counts.empty() ? 0.0 : (hi - lo) / static_cast<double>(counts.size());
}

double Histogram::binCenter(std::size_t bin) const
{
    return lo + (static_cast<double>(bin) + 0.5) * binWidth();
}

std::uint64_t Histogram::total() const
{
    std::uint64_t n = below + above + nonFinite;
    for (auto c : counts)
        n += c;
    return n;
}

HistogramBuilder::HistogramBuilder(double lo, double hi, int bins)
{
    bins = std::max(bins, 1);
    if (!(hi > lo)) {
        const double pad = std::max(std::fabs(lo) * 1e-3, 1e-6);
        lo -= pad;
        hi += pad;
    }
    m_h.lo = lo;
    m_h.hi = hi;
    m_h.counts.assign(static_cast<std::size_t>(bins), 0);
    m_scale = bins / (hi - lo);
}

void HistogramBuilder::addAll(const float* values, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        add(values[i]);
}

} // namespace qs
