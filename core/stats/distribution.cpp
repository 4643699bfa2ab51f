#include "stats/distribution.h"

#include "error.h"
#include "quant/kernels/row_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

namespace qs {
namespace {

using kernels::InputType;
constexpr std::int64_t kChunk = kernels::kChunk;
constexpr int kLanes = 16;
constexpr int kFineBins = 8192; // at least; the histogram's bins each sum a whole number of them
constexpr std::int64_t kBlock = 1 << 16; // elements per work unit when rows are not the unit

// The tensor as the passes read it: contiguous, floating values converted per chunk.
struct Source
{
    at::Tensor tensor; // keeps the data alive
    const std::uint8_t* data = nullptr;
    std::size_t elementSize = 4;
    InputType type = InputType::F32;
    std::int64_t numel = 0;
    std::int64_t rows = 1;
    std::int64_t cols = 0;

    // Converts [begin, begin + n) (n <= kChunk) to float.
    const float* chunk(std::int64_t begin, std::int64_t n, float* buffer) const
    {
        return kernels::best().toFloat(type, data + static_cast<std::size_t>(begin) * elementSize, n, buffer);
    }
};

Source sourceOf(const at::Tensor& values)
{
    Source s;
    at::Tensor t = values.contiguous();
    switch (t.scalar_type()) {
    case at::kFloat:
        s.type = InputType::F32;
        break;
    case at::kDouble:
        s.type = InputType::F64;
        break;
    case at::kHalf:
        s.type = InputType::F16;
        break;
    case at::kBFloat16:
        s.type = InputType::BF16;
        break;
    default:
        t = t.to(at::kFloat);
        s.type = InputType::F32;
        break;
    }
    s.tensor = t;
    s.data = static_cast<const std::uint8_t*>(t.data_ptr());
    s.elementSize = t.element_size();
    s.numel = t.numel();
    s.rows = t.dim() >= 2 ? t.size(0) : 1;
    s.cols = s.rows > 0 ? s.numel / s.rows : 0;
    return s;
}

bool cancelled(const std::atomic<bool>* cancel)
{
    return cancel && cancel->load(std::memory_order_relaxed);
}

// Sums of powers of (x - shift) with the shift near the mean, so that the central moments
// come out without cancellation.
struct Moments
{
    std::int64_t count = 0;
    std::int64_t zeros = 0;
    std::int64_t nonFinite = 0;
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

// Bins of equal width over [lo, hi]; the expression is shared by every pass so that they agree.
struct Binner
{
    double lo = 0;
    double hi = 0;
    double scale = 1;
    int bins = 1;

    Binner(double l, double h, int n)
        : lo(l)
        , hi(h)
        , bins(std::max(n, 1))
    {
        if (!(hi > lo)) { // the same widening as HistogramBuilder
            const double pad = std::max(std::fabs(lo) * 1e-3, 1e-6);
            lo -= pad;
            hi += pad;
        }
        scale = bins / (hi - lo);
    }
    // -1 below, bins above (NaN: -2)
    int binOf(float v) const
    {
        if (!(v >= lo)) // NaN lands here too
            return v != v ? -2 : -1;
        if (v > hi)
            return bins;
        const int b = static_cast<int>((v - lo) * scale);
        return b < bins ? b : bins - 1;
    }
};

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
    std::atomic<bool> stop { false };

    // Pass 1: moments, per row when the channels are asked for, else per block of the flat tensor.
    const bool byRow = options.perChannel;
    const std::int64_t units = byRow ? s.rows : (s.numel + kBlock - 1) / kBlock;
    std::vector<Moments> unitMoments(static_cast<std::size_t>(units));
    const std::int64_t unitSize = byRow ? s.cols : kBlock;
    const std::int64_t grain = std::max<std::int64_t>(1, kBlock / std::max<std::int64_t>(unitSize, 1));
    auto passOne = [&](std::int64_t begin, std::int64_t end) {
        float buffer[kChunk];
        for (std::int64_t u = begin; u < end; ++u) {
            if (cancelled(options.cancel)) {
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
            for (std::int64_t u = begin; u < end && !cancelled(options.cancel); ++u)
                addRange(s, u * kBlock, std::min(s.numel, (u + 1) * kBlock), shift, parts[static_cast<std::size_t>(u)],
                    buffer);
        });
        for (const auto& p : parts)
            unitMoments[0].merge(p);
    } else {
        at::parallel_for(0, units, grain, passOne);
    }
    if (stop || cancelled(options.cancel))
        throw CancelledError();

    Moments total;
    for (const auto& m : unitMoments)
        total.merge(m);
    TensorStatistics& st = result.stats;
    computeStatistics(total, options, st);
    if (total.count > 0)
        st.mean = shift + total.s1 / static_cast<double>(total.count);

    if (byRow) {
        ChannelStatistics& ch = result.channels;
        const auto rows = static_cast<std::size_t>(s.rows);
        ch.min.resize(rows);
        ch.max.resize(rows);
        ch.mean.resize(rows);
        ch.std.resize(rows);
        ch.absMax.resize(rows);
        for (std::size_t r = 0; r < rows; ++r) {
            const Moments& m = unitMoments[r];
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
    if (total.count == 0) {
        if (options.bins > 0)
            result.histogram = HistogramBuilder(options.rangeLo, options.rangeHi, options.bins).histogram();
        result.histogram.nonFinite = static_cast<std::uint64_t>(st.nonFinite);
        return result;
    }

    // Pass 2: fine histogram over [min, max] (the requested bins are sums of fine ones), the
    // requested range's histogram when it is forced, and the outliers.
    const bool forced = options.rangeHi > options.rangeLo;
    const int perBin = options.bins > 0 ? (kFineBins + options.bins - 1) / options.bins : 1;
    const Binner fine(st.min, st.max, options.bins > 0 ? options.bins * perBin : kFineBins);
    const Binner coarse(forced ? options.rangeLo : st.min, forced ? options.rangeHi : st.max, options.bins);
    const double outlierDistance
        = st.std > 0 ? options.outlierSigmas * st.std : std::numeric_limits<double>::infinity();
    std::vector<std::int64_t> fineCounts(static_cast<std::size_t>(fine.bins), 0);
    std::vector<std::int64_t> coarseCounts(static_cast<std::size_t>(coarse.bins) + 2, 0); // + below, above
    std::int64_t outliers = 0;
    std::mutex merge;
    at::parallel_for(0, s.numel, kBlock, [&](std::int64_t begin, std::int64_t end) {
        std::vector<std::int64_t> local(fineCounts.size(), 0);
        std::vector<std::int64_t> localCoarse(forced ? coarseCounts.size() : 0, 0);
        std::int64_t localOutliers = 0;
        float buffer[kChunk];
        for (std::int64_t b = begin; b < end; b += kChunk) {
            if (((b - begin) & (kBlock - 1)) == 0 && cancelled(options.cancel)) {
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
    if (stop || cancelled(options.cancel))
        throw CancelledError();
    st.outliers = outliers;

    if (options.bins > 0) {
        Histogram& h = result.histogram;
        h.lo = coarse.lo;
        h.hi = coarse.hi;
        h.counts.assign(static_cast<std::size_t>(coarse.bins), 0);
        h.nonFinite = static_cast<std::uint64_t>(st.nonFinite);
        if (forced) {
            for (int i = 0; i < coarse.bins; ++i)
                h.counts[static_cast<std::size_t>(i)]
                    = static_cast<std::uint64_t>(coarseCounts[static_cast<std::size_t>(i)]);
            h.below = static_cast<std::uint64_t>(coarseCounts[static_cast<std::size_t>(coarse.bins)]);
            h.above = static_cast<std::uint64_t>(coarseCounts[static_cast<std::size_t>(coarse.bins) + 1]);
        } else {
            for (std::size_t i = 0; i < fineCounts.size(); ++i)
                h.counts[i / static_cast<std::size_t>(perBin)] += static_cast<std::uint64_t>(fineCounts[i]);
        }
    }

    // Pass 3: the values in the fine bins that hold the order statistics the percentiles need.
    if (options.percentiles.empty())
        return result;
    std::vector<std::int64_t> before(fineCounts.size() + 1, 0); // values in bins < i
    for (std::size_t i = 0; i < fineCounts.size(); ++i)
        before[i + 1] = before[i] + fineCounts[i];
    const std::int64_t n = st.count;
    auto binOfRank = [&](std::int64_t rank) {
        return static_cast<int>(std::upper_bound(before.begin(), before.end(), rank) - before.begin()) - 1;
    };
    struct Need
    {
        double percent;
        std::int64_t rank;
        double fraction;
    };
    std::vector<Need> needs;
    std::vector<int> slot(fineCounts.size(), -1); // target bin -> index in `collected`
    int targets = 0;
    for (double p : options.percentiles) {
        const double position = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(n - 1);
        const auto rank = static_cast<std::int64_t>(std::floor(position));
        needs.push_back({ p, rank, position - static_cast<double>(rank) });
        for (std::int64_t r : { rank, std::min(rank + 1, n - 1) }) {
            const int bin = binOfRank(r);
            if (slot[static_cast<std::size_t>(bin)] < 0)
                slot[static_cast<std::size_t>(bin)] = targets++;
        }
    }
    std::vector<std::vector<float>> collected(static_cast<std::size_t>(targets));
    at::parallel_for(0, s.numel, kBlock, [&](std::int64_t begin, std::int64_t end) {
        std::vector<std::vector<float>> local(collected.size());
        float buffer[kChunk];
        for (std::int64_t b = begin; b < end; b += kChunk) {
            const std::int64_t count = std::min(kChunk, end - b);
            const float* x = s.chunk(b, count, buffer);
            for (std::int64_t i = 0; i < count; ++i) {
                const int bin = fine.binOf(x[i]);
                if (bin >= 0 && bin < fine.bins && slot[static_cast<std::size_t>(bin)] >= 0)
                    local[static_cast<std::size_t>(slot[static_cast<std::size_t>(bin)])].push_back(x[i]);
            }
        }
        std::lock_guard<std::mutex> lock(merge);
        for (std::size_t t = 0; t < local.size(); ++t)
            collected[t].insert(collected[t].end(), local[t].begin(), local[t].end());
    });
    for (auto& c : collected)
        std::sort(c.begin(), c.end());
    auto valueAt = [&](std::int64_t rank) -> double {
        const int bin = binOfRank(rank);
        const auto& values = collected[static_cast<std::size_t>(slot[static_cast<std::size_t>(bin)])];
        return values[static_cast<std::size_t>(rank - before[static_cast<std::size_t>(bin)])];
    };
    for (const Need& need : needs) {
        const double a = valueAt(need.rank);
        const double b = valueAt(std::min(need.rank + 1, n - 1));
        // numpy's lerp: exact at both ends.
        const double t = need.fraction;
        const double v = t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
        st.percentiles.push_back({ need.percent, v });
    }
    return result;
}

} // namespace qs
