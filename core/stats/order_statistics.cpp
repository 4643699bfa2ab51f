// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/order_statistics.h"

#include "error.h"

#include <ATen/Parallel.h>

#include <limits>
#include <map>
#include <mutex>

namespace qs::detail {
namespace {

constexpr std::int64_t kCollectLimit = std::int64_t(1) << 22; // values sorted at once (16 MB)
constexpr int kSubBins = 1 << 16;
constexpr int kMaxDepth = 8;

// One step of the narrowing: the values whose bin under `binner` is `index` (clamped, since a
// value on an edge may compute to the neighbour's bin).
struct Level
{
    Binner binner;
    int index;
};

bool member(const std::vector<Level>& chain, float v)
{
    for (const Level& level : chain) {
        const int b = std::clamp(level.binner.binOf(v), 0, level.binner.bins - 1);
        if (b != level.index)
            return false;
    }
    return true;
}

// Calls visit(state, value) for every finite value of the chain's innermost bin, in parallel,
// with one State per task merged into `total` under a lock.
template <typename State, typename Visit, typename Merge>
void scan(const Source& s, const std::vector<Level>& chain, CancelToken cancel, State& total,
    const State& empty, Visit visit, Merge merge)
{
    std::mutex lock;
    std::atomic<bool> stop { false };
    at::parallel_for(0, s.numel, kBlock, [&](std::int64_t begin, std::int64_t end) {
        State local = empty;
        float buffer[kChunk];
        for (std::int64_t b = begin; b < end; b += kChunk) {
            if (((b - begin) & (kBlock - 1)) == 0 && cancel.cancelled()) {
                stop = true;
                return;
            }
            const std::int64_t n = std::min(kChunk, end - b);
            const float* x = s.chunk(b, n, buffer);
            for (std::int64_t i = 0; i < n; ++i) {
                if (std::isfinite(x[i]) && member(chain, x[i]))
                    visit(local, x[i]);
            }
        }
        std::lock_guard<std::mutex> guard(lock);
        merge(total, local);
    });
    if (stop || cancel.cancelled())
        throw CancelledError();
}

[[noreturn]] void changedWhileRead()
{
    throw FormatError("the tensor's values changed while they were read (was the file modified?)");
}

double collectAndSelect(const Source& s, const std::vector<Level>& chain, std::int64_t expected, std::int64_t rank,
    CancelToken cancel)
{
    std::vector<float> values;
    scan(
        s, chain, cancel, values, std::vector<float>(), [](std::vector<float>& v, float x) { v.push_back(x); },
        [](std::vector<float>& t, const std::vector<float>& l) { t.insert(t.end(), l.begin(), l.end()); });
    if (static_cast<std::int64_t>(values.size()) != expected || rank < 0 || rank >= expected)
        changedWhileRead();
    std::nth_element(values.begin(), values.begin() + rank, values.end());
    return values[static_cast<std::size_t>(rank)];
}

struct SubHistogram
{
    std::vector<std::int64_t> counts;
    std::vector<float> min;
    std::vector<float> max;

    static SubHistogram sized()
    {
        SubHistogram h;
        h.counts.assign(kSubBins, 0);
        h.min.assign(kSubBins, std::numeric_limits<float>::infinity());
        h.max.assign(kSubBins, -std::numeric_limits<float>::infinity());
        return h;
    }
};

// The rank-th value of a bin too heavy to collect: narrow it with sub-histograms.
double narrowDown(
    const Source& s, std::vector<Level> chain, std::int64_t count, std::int64_t rank, CancelToken cancel)
{
    for (int depth = 0; depth < kMaxDepth; ++depth) {
        const Level& last = chain.back();
        const double lo = last.binner.lo + last.index / last.binner.scale;
        const Binner sub(lo, lo + 1.0 / last.binner.scale, kSubBins);
        SubHistogram h = SubHistogram::sized();
        scan(
            s, chain, cancel, h, SubHistogram::sized(),
            [&sub](SubHistogram& l, float x) {
                const auto b = static_cast<std::size_t>(std::clamp(sub.binOf(x), 0, kSubBins - 1));
                ++l.counts[b];
                l.min[b] = std::min(l.min[b], x);
                l.max[b] = std::max(l.max[b], x);
            },
            [](SubHistogram& t, const SubHistogram& l) {
                for (std::size_t b = 0; b < t.counts.size(); ++b) {
                    t.counts[b] += l.counts[b];
                    t.min[b] = std::min(t.min[b], l.min[b]);
                    t.max[b] = std::max(t.max[b], l.max[b]);
                }
            });
        std::int64_t seen = 0;
        std::size_t bin = 0;
        for (; bin < h.counts.size(); ++bin) {
            if (rank < seen + h.counts[bin])
                break;
            seen += h.counts[bin];
        }
        if (bin == h.counts.size())
            changedWhileRead();
        if (h.min[bin] == h.max[bin])
            return h.min[bin]; // every value of the sub-bin is the same
        chain.push_back({ sub, static_cast<int>(bin) });
        rank -= seen;
        count = h.counts[bin];
        if (count <= kCollectLimit)
            return collectAndSelect(s, chain, count, rank, cancel);
    }
    return collectAndSelect(s, chain, count, rank, cancel);
}

} // namespace

std::vector<double> orderStatistics(const Source& source, const Binner& fine,
    const std::vector<std::int64_t>& fineCounts, const std::vector<std::int64_t>& ranks,
    CancelToken cancel)
{
    std::vector<std::int64_t> before(fineCounts.size() + 1, 0); // values in bins < i
    for (std::size_t i = 0; i < fineCounts.size(); ++i)
        before[i + 1] = before[i] + fineCounts[i];
    const std::int64_t total = before.back();
    auto binOfRank = [&](std::int64_t rank) {
        if (rank < 0 || rank >= total)
            changedWhileRead();
        return static_cast<int>(std::upper_bound(before.begin(), before.end(), rank) - before.begin()) - 1;
    };

    // Light bins: the values of all of them in one pass, sorted per bin.
    std::map<int, std::vector<float>> light;
    for (std::int64_t r : ranks) {
        const int bin = binOfRank(r);
        if (fineCounts[static_cast<std::size_t>(bin)] <= kCollectLimit)
            light[bin];
    }
    if (!light.empty()) {
        std::vector<int> slot(fineCounts.size(), -1);
        int next = 0;
        for (auto& [bin, values] : light)
            slot[static_cast<std::size_t>(bin)] = next++;
        using Lists = std::vector<std::vector<float>>;
        Lists collected(light.size());
        scan(
            source, std::vector<Level> {}, cancel, collected, Lists(light.size()),
            [&](Lists& l, float x) {
                const int b = fine.binOf(x);
                if (b >= 0 && b < fine.bins && slot[static_cast<std::size_t>(b)] >= 0)
                    l[static_cast<std::size_t>(slot[static_cast<std::size_t>(b)])].push_back(x);
            },
            [](Lists& t, const Lists& l) {
                for (std::size_t i = 0; i < t.size(); ++i)
                    t[i].insert(t[i].end(), l[i].begin(), l[i].end());
            });
        for (auto& [bin, values] : light) {
            values = std::move(collected[static_cast<std::size_t>(slot[static_cast<std::size_t>(bin)])]);
            if (static_cast<std::int64_t>(values.size()) != fineCounts[static_cast<std::size_t>(bin)])
                changedWhileRead();
            std::sort(values.begin(), values.end());
        }
    }

    std::vector<double> out;
    out.reserve(ranks.size());
    std::map<std::int64_t, double> heavy; // rank -> value, narrowed once per rank
    for (std::int64_t r : ranks) {
        const int bin = binOfRank(r);
        const std::int64_t local = r - before[static_cast<std::size_t>(bin)];
        const auto it = light.find(bin);
        if (it != light.end()) {
            out.push_back(it->second[static_cast<std::size_t>(local)]);
            continue;
        }
        auto known = heavy.find(r);
        if (known == heavy.end()) {
            const double v
                = narrowDown(source, { Level { fine, bin } }, fineCounts[static_cast<std::size_t>(bin)], local, cancel);
            known = heavy.emplace(r, v).first;
        }
        out.push_back(known->second);
    }
    return out;
}

} // namespace qs::detail
