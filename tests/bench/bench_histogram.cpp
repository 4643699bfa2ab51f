// SPDX-License-Identifier: GPL-3.0-or-later
// The histogram view's computation on a large weight (default 11008 x 4096, 45M elements, as a
// Llama-7B MLP weight), bf16 and fp32: the histogram with moments and per-channel ranges (what
// the view shows first), and the full statistics with exact percentiles, against memcpy of
// the input and against the same numbers computed with libtorch eager ops (min, max, mean,
// std, histc, kurtosis), in one run. Prints milliseconds, GB/s and the ratios; exits non-zero
// when the histogram's counts do not add up. The target: the histogram in < 100 ms.
#include "bench_support.h"
#include "jobs/threads.h"
#include "stats/distribution.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

// What a Python user writes: float copy, the moments, and torch.histc.
void eager(const at::Tensor& w, int bins)
{
    const at::Tensor f = w.to(at::kFloat);
    const double lo = f.min().item<double>();
    const double hi = f.max().item<double>();
    const at::Tensor mean = f.mean();
    const at::Tensor centered = f - mean;
    const at::Tensor m2 = centered.pow(2).mean();
    const at::Tensor kurtosis = centered.pow(4).mean() / (m2 * m2) - 3;
    const at::Tensor h = at::histc(f, bins, lo, hi);
    (void)kurtosis.item<double>();
    (void)h.sum().item<double>();
}

} // namespace

int main(int argc, char** argv)
{
    long long rows = 11008;
    long long cols = 4096;
    int repeat = 3;
    qs::bench::readSizeArguments(argc, argv, rows, cols, repeat);
    qs::useIntraOpThreads();
    std::printf("histogram of a %lld x %lld weight (%.1f M elements), %d threads, best of %d\n",
        static_cast<long long>(rows), static_cast<long long>(cols), rows * cols / 1e6, at::get_num_threads(), repeat);
    at::manual_seed(1);
    int status = 0;
    for (const at::ScalarType type : { at::kBFloat16, at::kFloat }) {
        const at::Tensor w = (at::randn({ rows, cols }) * 0.02).to(type).contiguous();
        const double bytes = static_cast<double>(w.numel() * w.element_size());
        std::vector<std::uint8_t> sink(static_cast<std::size_t>(bytes));
        std::memset(sink.data(), 1, sink.size());
        const double copy
            = qs::bench::bestSeconds([&] { std::memcpy(sink.data(), w.data_ptr(), sink.size()); }, repeat);

        qs::DistributionOptions histogramOnly;
        histogramOnly.percentiles.clear();
        qs::Distribution d;
        const double histogram = qs::bench::bestSeconds([&] { d = qs::measureDistribution(w, histogramOnly); }, repeat);
        if (d.histogram.total() != static_cast<std::uint64_t>(w.numel())) {
            std::printf("FAIL: the histogram holds %llu of %lld values\n",
                static_cast<unsigned long long>(d.histogram.total()), static_cast<long long>(w.numel()));
            status = 1;
        }
        const double full = qs::bench::bestSeconds([&] { d = qs::measureDistribution(w); }, repeat);
        const double torch = qs::bench::bestSeconds([&] { eager(w, 200); }, std::max(1, repeat - 1));
        const char* name = type == at::kBFloat16 ? "bf16" : "fp32";
        std::printf("%s: memcpy %.1f ms | histogram+moments+channels %.1f ms (%.2f GB/s, %.2fx memcpy time, %.1fx "
                    "faster than eager %.1f ms) | with exact percentiles %.1f ms\n",
            name, copy * 1e3, histogram * 1e3, bytes / histogram / 1e9, histogram / copy, torch / histogram,
            torch * 1e3, full * 1e3);
        std::printf("%s: histogram %s the 100 ms target\n", name, histogram < 0.1 ? "meets" : "MISSES");
    }
    return status;
}
