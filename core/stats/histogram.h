// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <vector>

namespace qs {

// Counts of values in equal-width bins over [lo, hi]. Plain data for the plots.
struct Histogram
{
    double lo = 0;
    double hi = 0;
    std::vector<std::uint64_t> counts;
    std::uint64_t below = 0; // values under lo
    std::uint64_t above = 0; // values over hi
    std::uint64_t nonFinite = 0; // NaN (infinities count as below/above)

    bool empty() const { return counts.empty(); }
    double binWidth() const;
    double binCenter(std::size_t bin) const;
    std::uint64_t total() const;
};

// Fills a Histogram; values exactly at `hi` land in the last bin. A degenerate range (all
// values equal) is widened around the value so that the bins stay meaningful.
class HistogramBuilder
{
public:
    HistogramBuilder(double lo, double hi, int bins);

    // Adds `value` `times` times.
    void add(double value, std::uint64_t times = 1)
    {
        if (value != value) {
            m_h.nonFinite += times;
            return;
        }
        if (value < m_h.lo) {
            m_h.below += times;
            return;
        }
        if (value > m_h.hi) {
            m_h.above += times;
            return;
        }
        auto bin = static_cast<std::int64_t>((value - m_h.lo) * m_scale);
        if (bin >= static_cast<std::int64_t>(m_h.counts.size()))
            bin = static_cast<std::int64_t>(m_h.counts.size()) - 1;
        m_h.counts[static_cast<std::size_t>(bin)] += times;
    }
    void addAll(const float* values, std::int64_t n);
    const Histogram& histogram() const { return m_h; }

private:
    Histogram m_h;
    double m_scale = 1;
};

} // namespace qs
