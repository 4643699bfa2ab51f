// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/distribution.h"

#include "error.h"
#include "stats/order_statistics.h"
#include "stats/value_source.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>

namespace qs {
namespace {

using namespace detail;
constexpr int kLanes = 16;
constexpr int kFineBins = 8192; // at least; the histogram's bins each sum a whole number of them

// Sums of powers of (x - shift) with the shift near the mean, so that the central moments
// come out without cancellation.
struct Moments
{
    std::int64_t count = 0;
    std::int64_t zeros = 0;
    std::int64_t nonFinite = 0; // NaN and infinities
    std::int64_t negInf = 0;
    std::int64_t posInf = 0;
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    double s4 = 0;

    void merge(const Moments& o)
    {
        count += o.count;
        zeros += o.zeros;
        nonFinite += o.nonFinite;
        negInf += o.negInf;
        posInf += o.posInf;
        min = std::min(min, o.min);
        max = std::max(max, o.max);
        s1 += o.s1;
        s2 += o.s2;
        s3 += o.s3;
        s4 += o.s4;
    }
};

// One chunk that holds NaN, infinity or values whose fourth power overflows a float: in double,
// skipping the non-finite ones.
void addChunkCarefully(const float* x, std::int64_t n, double shift, Moments& m)
{
    for (std::int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        if (!std::isfinite(v)) {
            ++m.nonFinite;
            m.negInf += v < 0 ? 1 : 0; // NaN compares false both ways
            m.posInf += v > 0 ? 1 : 0;
            continue;
        }
        const double d = v - shift;
        const double d2 = d * d;
        ++m.count;
        m.zeros += v == 0.0f ? 1 : 0;
        m.min = std::min<double>(m.min, v);
        m.max = std::max<double>(m.max, v);
        m.s1 += d;
        m.s2 += d2;
        m.s3 += d2 * d;
        m.s4 += d2 * d2;
    }
}

// Float partial sums in independent lanes (vectorised), folded into double per chunk.
void addChunk(const float* x, std::int64_t n, float shift, Moments& m)
{
    float mn[kLanes];
    float mx[kLanes];
    float p1[kLanes] = {};
    float p2[kLanes] = {};
    float p3[kLanes] = {};
    float p4[kLanes] = {};
    std::int32_t z[kLanes] = {};
    std::fill(mn, mn + kLanes, std::numeric_limits<float>::infinity());
    std::fill(mx, mx + kLanes, -std::numeric_limits<float>::infinity());
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (int l = 0; l < kLanes; ++l) {
            const float v = x[i + l];
            mn[l] = v < mn[l] ? v : mn[l];
            mx[l] = v > mx[l] ? v : mx[l];
            const float d = v - shift;
            const float d2 = d * d;
            p1[l] += d;
            p2[l] += d2;
            p3[l] += d2 * d;
            p4[l] += d2 * d2;
            z[l] += v == 0.0f ? 1 : 0;
        }
    }
    for (; i < n; ++i) {
        const float v = x[i];
        mn[0] = v < mn[0] ? v : mn[0];
        mx[0] = v > mx[0] ? v : mx[0];
        const float d = v - shift;
        const float d2 = d * d;
        p1[0] += d;
        p2[0] += d2;
        p3[0] += d2 * d;
        p4[0] += d2 * d2;
        z[0] += v == 0.0f ? 1 : 0;
    }
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    float lo = mn[0], hi = mx[0];
    std::int64_t zeros = 0;
    for (int l = 0; l < kLanes; ++l) {
        s1 += p1[l];
        s2 += p2[l];
        s3 += p3[l];
        s4 += p4[l];
        lo = std::min(lo, mn[l]);
        hi = std::max(hi, mx[l]);
        zeros += z[l];
    }
    // NaN and infinity propagate into the sums (and so does an overflowing fourth power).
    if (!std::isfinite(s1) || !std::isfinite(s4) || !std::isfinite(s3)) {
        addChunkCarefully(x, n, shift, m);
        return;
    }
    m.count += n;
    m.zeros += zeros;
    m.min = std::min<double>(m.min, lo);
    m.max = std::max<double>(m.max, hi);
    m.s1 += s1;
    m.s2 += s2;
    m.s3 += s3;
    m.s4 += s4;
}

// The mean of up to 4096 evenly spaced finite values.
float estimateMean(const Source& s)
{
    const std::int64_t samples = std::min<std::int64_t>(s.numel, 4096);
    const std::int64_t stride = std::max<std::int64_t>(1, s.numel / std::max<std::int64_t>(samples, 1));
    double sum = 0;
    std::int64_t n = 0;
    float buffer[1];
    for (std::int64_t i = 0; i < s.numel && n < samples; i += stride) {
        const float v = *s.chunk(i, 1, buffer);
        if (std::isfinite(v)) {
            sum += v;
            ++n;
        }
    }
    return n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
}

void addRange(const Source& s, std::int64_t begin, std::int64_t end, float shift, Moments& m, float* buffer)
{
    for (std::int64_t b = begin; b < end; b += kChunk) {
        const std::int64_t n = std::min(kChunk, end - b);
        addChunk(s.chunk(b, n, buffer), n, shift, m);
    }
}

void computeStatistics(const Moments& m, const DistributionOptions& options, TensorStatistics& st)
{
    st.count = m.count;
    st.zeros = m.zeros;
    st.nonFinite = m.nonFinite;
    st.outlierSigmas = options.outlierSigmas;
    if (m.count == 0)
        return;
    const double n = static_cast<double>(m.count);
    const double a = m.s1 / n;
    const double b2 = m.s2 / n;
    const double b3 = m.s3 / n;
    const double b4 = m.s4 / n;
    const double mu2 = std::max(0.0, b2 - a * a);
    const double mu4 = std::max(0.0, b4 - 4 * a * b3 + 6 * a * a * b2 - 3 * a * a * a * a);
    st.min = m.min;
    st.max = m.max;
    st.std = m.count > 1 ? std::sqrt(mu2 * n / (n - 1)) : 0.0;
    st.kurtosis = mu2 > 0 ? mu4 / (mu2 * mu2) - 3.0 : 0.0;
    st.mean = 0; // set by the caller, which knows the shift
}

// Pass 1: moments, per row when the channels are asked for, else per block of the flat tensor.
std::vector<Moments> measureMoments(const Source& s, float shift, const DistributionOptions& options)
{
    std::atomic<bool> stop { false };
    const bool byRow = options.perChannel;
    const std::int64_t units = byRow ? s.rows : (s.numel + kBlock - 1) / kBlock;
    std::vector<Moments> unitMoments(static_cast<std::size_t>(units));
    const std::int64_t unitSize = byRow ? s.cols : kBlock;
    const std::int64_t grain = std::max<std::int64_t>(1, kBlock / std::max<std::int64_t>(unitSize, 1));
    auto passOne = [&](std::int64_t begin, std::int64_t end) {
        float buffer[kChunk];
        for (std::int64_t u = begin; u < end; ++u) {
            if (options.cancel.cancelled()) {
                stop = true;
                return;
            }
            const std::int64_t b = u * unitSize;
            addRange(s, b, std::min(s.numel, b + unitSize), shift, unitMoments[static_cast<std::size_t>(u)], buffer);
        }
    };
    if (byRow && s.rows == 1) {
        // One row: split it into blocks and merge.
        const std::int64_t blocks = (s.numel + kBlock - 1) / kBlock;
        std::vector<Moments> parts(static_cast<std::size_t>(blocks));
        at::parallel_for(0, blocks, 1, [&](std::int64_t begin, std::int64_t end) {
            float buffer[kChunk];
            for (std::int64_t u = begin; u < end && !options.cancel.cancelled(); ++u)
                addRange(s, u * kBlock, std::min(s.numel, (u + 1) * kBlock), shift, parts[static_cast<std::size_t>(u)],
                    buffer);
        });
        for (const auto& p : parts)
            unitMoments[0].merge(p);
    } else {
        at::parallel_for(0, units, grain, passOne);
    }
    if (stop || options.cancel.cancelled())
        throw CancelledError();
    return unitMoments;
}

// Each row's min, max, mean, std and absMax from its moments (NaN for a row without finite values).
void computeChannels(const std::vector<Moments>& rowMoments, float shift, ChannelStatistics& ch)
{
    const std::size_t rows = rowMoments.size();
    ch.min.resize(rows);
    ch.max.resize(rows);
    ch.mean.resize(rows);
    ch.std.resize(rows);
    ch.absMax.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) {
        const Moments& m = rowMoments[r];
        const double n = static_cast<double>(m.count);
        if (m.count == 0) {
            ch.min[r] = ch.max[r] = ch.mean[r] = ch.std[r] = ch.absMax[r] = std::numeric_limits<float>::quiet_NaN();
            continue;
        }
        ch.min[r] = static_cast<float>(m.min);
        ch.max[r] = static_cast<float>(m.max);
        ch.mean[r] = static_cast<float>(shift + m.s1 / n);
        const double var = m.count > 1 ? std::max(0.0, (m.s2 - m.s1 * m.s1 / n) / (n - 1)) : 0.0;
        ch.std[r] = static_cast<float>(std::sqrt(var));
        ch.absMax[r] = static_cast<float>(std::max(std::fabs(m.min), std::fabs(m.max)));
    }
}

// As HistogramBuilder counts them: infinities below or above, NaN apart.
void setNonFiniteCounts(const Moments& total, Histogram& h)
{
    h.below = static_cast<std::uint64_t>(total.negInf);
    h.above = static_cast<std::uint64_t>(total.posInf);
    h.nonFinite = static_cast<std::uint64_t>(total.nonFinite - total.negInf - total.posInf);
}

struct BinCounts
{
    std::vector<std::int64_t> fine;
    std::vector<std::int64_t> coarse; // the forced range's bins, then below and above
    std::int64_t outliers = 0;
};

// Pass 2: fine histogram over [min, max] (the requested bins are sums of fine ones), the
// requested range's histogram when it is forced, and the outliers.
BinCounts countBins(const Source& s, const Binner& fine, const Binner& coarse, bool forced, const TensorStatistics& st,
    const DistributionOptions& options)
{
    std::atomic<bool> stop { false };
    const double outlierDistance
        = st.std > 0 ? options.outlierSigmas * st.std : std::numeric_limits<double>::infinity();
    BinCounts counts;
    std::vector<std::int64_t>& fineCounts = counts.fine;
    std::vector<std::int64_t>& coarseCounts = counts.coarse;
    fineCounts.assign(static_cast<std::size_t>(fine.bins), 0);
    coarseCounts.assign(static_cast<std::size_t>(coarse.bins) + 2, 0); // + below, above
    std::int64_t outliers = 0;
    std::mutex merge;
    at::parallel_for(0, s.numel, kBlock, [&](std::int64_t begin, std::int64_t end) {
        std::vector<std::int64_t> local(fineCounts.size(), 0);
        std::vector<std::int64_t> localCoarse(forced ? coarseCounts.size() : 0, 0);
        std::int64_t localOutliers = 0;
        float buffer[kChunk];
        for (std::int64_t b = begin; b < end; b += kChunk) {
            if (((b - begin) & (kBlock - 1)) == 0 && options.cancel.cancelled()) {
                stop = true;
                return;
            }
            const std::int64_t n = std::min(kChunk, end - b);
            const float* x = s.chunk(b, n, buffer);
            for (std::int64_t i = 0; i < n; ++i) {
                const int bin = fine.binOf(x[i]);
                if (bin < 0 || bin >= fine.bins)
                    continue; // non-finite
                ++local[static_cast<std::size_t>(bin)];
                localOutliers += std::fabs(x[i] - st.mean) > outlierDistance ? 1 : 0;
                if (forced) {
                    const int c = coarse.binOf(x[i]);
                    ++localCoarse[c < 0 ? coarse.bins : c >= coarse.bins ? coarse.bins + 1 : c];
                }
            }
        }
        std::lock_guard<std::mutex> lock(merge);
        for (std::size_t i = 0; i < local.size(); ++i)
            fineCounts[i] += local[i];
        for (std::size_t i = 0; i < localCoarse.size(); ++i)
            coarseCounts[i] += localCoarse[i];
        outliers += localOutliers;
    });
    if (stop || options.cancel.cancelled())
        throw CancelledError();
    counts.outliers = outliers;
    return counts;
}

// The requested histogram: the forced range's bins, or sums of `perBin` fine bins.
void fillHistogram(
    const BinCounts& counts, const Binner& coarse, bool forced, int perBin, const Moments& total, Histogram& h)
{
    h.lo = coarse.lo;
    h.hi = coarse.hi;
    h.counts.assign(static_cast<std::size_t>(coarse.bins), 0);
    setNonFiniteCounts(total, h);
    if (forced) {
        for (int i = 0; i < coarse.bins; ++i)
            h.counts[static_cast<std::size_t>(i)]
                = static_cast<std::uint64_t>(counts.coarse[static_cast<std::size_t>(i)]);
        h.below += static_cast<std::uint64_t>(counts.coarse[static_cast<std::size_t>(coarse.bins)]);
        h.above += static_cast<std::uint64_t>(counts.coarse[static_cast<std::size_t>(coarse.bins) + 1]);
    } else {
        for (std::size_t i = 0; i < counts.fine.size(); ++i)
            h.counts[i / static_cast<std::size_t>(perBin)] += static_cast<std::uint64_t>(counts.fine[i]);
    }
}

// Pass 3: the order statistics the percentiles need, from the fine histogram.
void computePercentiles(const Source& s, const Binner& fine, const std::vector<std::int64_t>& fineCounts,
    const DistributionOptions& options, TensorStatistics& st)
{
    const std::int64_t n = st.count;
    struct Need
    {
        double percent;
        std::int64_t rank;
        double fraction;
    };
    std::vector<Need> needs;
    std::vector<std::int64_t> ranks;
    for (double p : options.percentiles) {
        const double position = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(n - 1);
        const auto rank = static_cast<std::int64_t>(std::floor(position));
        needs.push_back({ p, rank, position - static_cast<double>(rank) });
        ranks.push_back(rank);
        ranks.push_back(std::min(rank + 1, n - 1));
    }
    const std::vector<double> order = orderStatistics(s, fine, fineCounts, ranks, options.cancel);
    for (std::size_t i = 0; i < needs.size(); ++i) {
        const double a = order[2 * i];
        const double b = order[2 * i + 1];
        // numpy's lerp: exact at both ends.
        const double t = needs[i].fraction;
        const double v = t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
        st.percentiles.push_back({ needs[i].percent, v });
    }
}

} // namespace

Distribution measureDistribution(const at::Tensor& values, const DistributionOptions& options)
{
    Distribution result;
    const Source s = sourceOf(values);
    if (s.numel == 0) {
        if (options.bins > 0)
            result.histogram = HistogramBuilder(options.rangeLo, options.rangeHi, options.bins).histogram();
        return result;
    }
    const float shift = estimateMean(s);
    const std::vector<Moments> unitMoments = measureMoments(s, shift, options);
    Moments total;
    for (const auto& m : unitMoments)
        total.merge(m);
    TensorStatistics& st = result.stats;
    computeStatistics(total, options, st);
    if (total.count > 0)
        st.mean = shift + total.s1 / static_cast<double>(total.count);
    if (options.perChannel)
        computeChannels(unitMoments, shift, result.channels);
    if (total.count == 0) {
        if (options.bins > 0)
            result.histogram = HistogramBuilder(options.rangeLo, options.rangeHi, options.bins).histogram();
        setNonFiniteCounts(total, result.histogram);
        return result;
    }

    const bool forced = options.rangeHi > options.rangeLo;
    const int perBin = options.bins > 0 ? (kFineBins + options.bins - 1) / options.bins : 1;
    const Binner fine(st.min, st.max, options.bins > 0 ? options.bins * perBin : kFineBins);
    const Binner coarse(forced ? options.rangeLo : st.min, forced ? options.rangeHi : st.max, options.bins);
    const BinCounts counts = countBins(s, fine, coarse, forced, st, options);
    st.outliers = counts.outliers;
    if (options.bins > 0)
        fillHistogram(counts, coarse, forced, perBin, total, result.histogram);
    if (!options.percentiles.empty())
        computePercentiles(s, fine, counts.fine, options, st);
    return result;
}

} // namespace qs
