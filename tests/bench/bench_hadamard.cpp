// SPDX-License-Identifier: GPL-3.0-or-later
// A Hadamard rotation of a weight's rows (W R, what --rotate does to every Linear reading the
// residual stream): QuantScope's fast transform (core/algo/hadamard.h: a b x b product per group,
// then the butterflies) against a libtorch matmul with the same matrix, in the same run, with the
// same threads. Prints seconds, throughput and the ratio. Default: a 4096 x 4096 weight (n 4096,
// a power of two); --cols 5120 is a Paley order times a power of two (20 x 256).
//   bench_hadamard [--rows N --cols N --repeat N]
#include "algo/hadamard.h"
#include "bench_support.h"
#include "jobs/threads.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>

int main(int argc, char** argv)
{
    long long rows = 4096, cols = 4096;
    int repeat = 3;
    qs::bench::readSizeArguments(argc, argv, rows, cols, repeat);
    qs::useIntraOpThreads(0);
    at::manual_seed(0);
    const at::Tensor w = at::randn({ rows, cols });
    const qs::Rotation r = qs::Rotation::make(cols, qs::RotationKind::Hadamard, 1);
    if (!r.isHadamard()) {
        std::fprintf(stderr, "bench_hadamard: no Hadamard of order %lld\n", cols);
        return 1;
    }
    const at::Tensor m = r.matrix();
    at::Tensor fast, dense;
    const double fastSeconds = qs::bench::bestSeconds([&] { fast = r.right(w); }, repeat);
    const double denseSeconds = qs::bench::bestSeconds([&] { dense = at::matmul(w, m); }, repeat);
    const double difference = (fast - dense).abs().max().item<double>();
    const double gb = static_cast<double>(rows * cols) * 4 / 1e9;
    std::printf("Hadamard rotation of a %lld x %lld weight (%s), %d threads\n", rows, cols, r.description().c_str(),
        at::get_num_threads());
    std::printf("  fast transform %.4f s (%.2f GB/s), libtorch matmul %.4f s (%.2f GB/s)\n", fastSeconds,
        gb / fastSeconds, denseSeconds, gb / denseSeconds);
    std::printf("  ratio matmul/fast %.2fx; largest difference %.3g\n", denseSeconds / fastSeconds, difference);
    return difference < 1e-3 ? 0 : 1;
}
