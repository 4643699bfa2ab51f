// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/quantized_distribution.h"

#include "quant/fp8.h"
#include "quant/scheme_quantizer.h"
#include "stats/quantized_units.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <mutex>

namespace qs {
using namespace detail;

Histogram dequantizedHistogram(const SchemeQuantized& q, double lo, double hi, int bins)
{
    HistogramBuilder empty(lo, hi, bins);
    if (!q.codes.defined() || q.codes.numel() == 0)
        return empty.histogram();
    const Units u = unitsOf(q);
    const std::array<float, 256> values = codeValues(q);
    Histogram total = empty.histogram();
    std::mutex merge;
    const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(u.cols, 1));
    at::parallel_for(0, u.rows, grain, [&](std::int64_t begin, std::int64_t end) {
        HistogramBuilder local(lo, hi, bins);
        std::array<std::int64_t, 256> counts {};
        for (std::int64_t r = begin; r < end; ++r) {
            for (std::int64_t g = 0; g < u.groups; ++g) {
                const std::uint8_t* c = u.codeData() + r * u.cols + g * u.groupSize;
                const std::int64_t n = std::min(u.groupSize, u.cols - g * u.groupSize);
                const float s = u.scaleOf(r, g);
                const float z = u.zeroOf(r, g);
                if (n < 1024) { // small groups: bin each value
                    for (std::int64_t i = 0; i < n; ++i)
                        local.add((values[c[i]] - z) * s);
                    continue;
                }
                counts.fill(0);
                for (std::int64_t i = 0; i < n; ++i)
                    ++counts[c[i]];
                for (int b = 0; b < 256; ++b) {
                    if (counts[static_cast<std::size_t>(b)] == 0)
                        continue;
                    local.add((values[static_cast<std::size_t>(b)] - z) * s,
                        static_cast<std::uint64_t>(counts[static_cast<std::size_t>(b)]));
                }
            }
        }
        const Histogram& h = local.histogram();
        std::lock_guard<std::mutex> lock(merge);
        for (std::size_t i = 0; i < h.counts.size(); ++i)
            total.counts[i] += h.counts[i];
        total.below += h.below;
        total.above += h.above;
        total.nonFinite += h.nonFinite;
    });
    return total;
}

CodeHistogram codeHistogramOf(const SchemeQuantized& q)
{
    CodeHistogram result;
    result.fp8 = isFp8(q);
    result.clippedFraction = q.clippedFraction;
    std::array<std::int64_t, 256> counts {};
    if (q.codes.defined() && q.codes.numel() > 0) {
        const at::Tensor codes = q.codes.contiguous();
        const auto* c = static_cast<const std::uint8_t*>(codes.data_ptr());
        std::mutex merge;
        at::parallel_for(0, codes.numel(), 1 << 18, [&](std::int64_t begin, std::int64_t end) {
            std::array<std::int64_t, 256> local {};
            for (std::int64_t i = begin; i < end; ++i)
                ++local[c[i]];
            std::lock_guard<std::mutex> lock(merge);
            for (std::size_t b = 0; b < 256; ++b)
                counts[b] += local[b];
        });
    }
    const std::array<float, 256> values = codeValues(q);
    if (!result.fp8) {
        const int qmin = q.scheme.qmin();
        const int qmax = q.scheme.qmax();
        for (int level = qmin; level <= qmax; ++level) {
            result.levels.push_back(level);
            result.counts.push_back(counts[static_cast<std::uint8_t>(static_cast<std::int8_t>(level))]);
        }
        result.atMin = result.counts.empty() ? 0 : result.counts.front();
        result.atMax = result.counts.empty() ? 0 : result.counts.back();
        return result;
    }
    // fp8: the finite values in ascending order, +0 and -0 together.
    std::map<float, std::int64_t> byValue;
    const float limit = fp8Limit(q);
    for (int b = 0; b < 256; ++b) {
        const float v = values[static_cast<std::size_t>(b)];
        if (!std::isfinite(v) || std::fabs(v) > limit)
            continue;
        byValue[v == 0.0f ? 0.0f : v] += counts[static_cast<std::size_t>(b)];
    }
    for (const auto& [v, n] : byValue) {
        result.levels.push_back(v);
        result.counts.push_back(n);
        if (v == -limit)
            result.atMin = n;
        if (v == limit)
            result.atMax = n;
    }
    return result;
}

std::vector<double> clipLinesOf(const SchemeQuantized& q)
{
    if (!q.scale.defined() || q.scale.numel() == 0)
        return {};
    const Units u = unitsOf(q);
    const double low = isFp8(q) ? -fp8Limit(q) : q.scheme.qmin();
    const double high = isFp8(q) ? fp8Limit(q) : q.scheme.qmax();
    double widestLo = 0, widestHi = 0, narrowLo = 0, narrowHi = 0;
    bool first = true;
    const std::int64_t units = u.perTensor ? 1 : u.scale.numel();
    const float* s = u.scale.data_ptr<float>();
    const float* z = u.zero.defined() ? u.zero.data_ptr<float>() : nullptr;
    for (std::int64_t i = 0; i < units; ++i) {
        const double zp = z ? z[i] : 0.0;
        const double lo = (low - zp) * s[i];
        const double hi = (high - zp) * s[i];
        if (first) {
            widestLo = narrowLo = lo;
            widestHi = narrowHi = hi;
            first = false;
            continue;
        }
        widestLo = std::min(widestLo, lo);
        widestHi = std::max(widestHi, hi);
        narrowLo = std::max(narrowLo, lo);
        narrowHi = std::min(narrowHi, hi);
    }
    std::vector<double> lines { widestLo, widestHi, narrowLo, narrowHi };
    std::sort(lines.begin(), lines.end());
    lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
    return lines;
}

} // namespace qs
