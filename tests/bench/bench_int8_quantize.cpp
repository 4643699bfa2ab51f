// SPDX-License-Identifier: GPL-3.0-or-later
// Per-channel int8 of a bf16 and an fp32 weight: QuantScope's fused kernels against the same
// math written as libtorch eager ops, and against memcpy of the input, in one run. Prints GB/s
// of input read and the ratios, on one thread and on every core. Default size: a Llama-7B MLP
// weight (11008 x 4096). Exits non-zero when the kernel's codes differ from eager's.
#include "bench_support.h"
#include "quant/int8_per_channel.h"
#include "quant/kernels/row_kernels.h"
#include "quant/quant_scheme.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cfloat>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

// NxD's per-channel int8 as a Python user writes it with torch ops.
std::pair<at::Tensor, at::Tensor> eager(const at::Tensor& w)
{
    const at::Tensor f = w.to(at::kFloat);
    const at::Tensor scale = at::clamp_min(f.abs().amax(1, true) / 127.0, FLT_EPSILON);
    const at::Tensor codes = at::clamp(at::round(f * scale.reciprocal()), -128, 127).to(at::kChar);
    return { codes, scale };
}

} // namespace

int main(int argc, char** argv)
{
    long long rows = 11008;
    long long cols = 4096;
    int repeat = 3;
    qs::bench::readSizeArguments(argc, argv, rows, cols, repeat);
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::printf("per-channel int8 (NxD) of a %lld x %lld weight, best of %d, kernels: %s, %d cores\n",
        static_cast<long long>(rows), static_cast<long long>(cols), repeat, qs::kernels::best().isa, cores);
    std::printf("GB/s of input; ratios: kernel time / memcpy time, eager time / kernel time\n");
    const qs::QuantScheme nxd = *qs::findSchemePreset("nxd-int8");
    int failures = 0;
    for (const auto type : { at::kBFloat16, at::kFloat }) {
        const at::Tensor w = at::randn({ rows, cols }).to(type);
        const double gb = static_cast<double>(w.numel() * w.element_size()) / 1e9;
        std::vector<char> copy(static_cast<std::size_t>(w.numel() * w.element_size()));
        std::memset(copy.data(), 1, copy.size()); // fault the pages in outside the timing
        const double tCopy
            = qs::bench::bestSeconds([&] { std::memcpy(copy.data(), w.data_ptr(), copy.size()); }, repeat);
        std::printf("%-9s memcpy %6.2f GB/s\n", c10::toString(type), gb / tCopy);
        for (const int threads : { 1, cores }) {
            if (threads == cores && cores == 1)
                break;
            at::set_num_threads(threads);
            qs::SchemeQuantized q;
            qs::QuantizeOptions codesOnly;
            codesOnly.errorMetrics = false;
            codesOnly.codeHistogram = false;
            const double tCodes
                = qs::bench::bestSeconds([&] { q = qs::quantizeWithScheme(w, nxd, codesOnly); }, repeat);
            const double tFull = qs::bench::bestSeconds([&] { qs::quantizeWithScheme(w, nxd); }, repeat);
            std::pair<at::Tensor, at::Tensor> ref;
            const double tEager = qs::bench::bestSeconds([&] { ref = eager(w); }, repeat);
            const bool same = at::equal(q.codes, ref.first) && at::equal(q.scale, ref.second);
            failures += same ? 0 : 1;
            std::printf("%-9s %d thread%s | codes+scales %6.2f GB/s (%.2fx memcpy, %.1fx eager) | + error, code std "
                        "and histogram %6.2f GB/s (%.2fx memcpy, %.1fx eager) | eager %5.2f GB/s | %s\n",
                c10::toString(type), threads, threads == 1 ? " " : "s", gb / tCodes, tCopy / tCodes, tEager / tCodes,
                gb / tFull, tCopy / tFull, tEager / tFull, gb / tEager, same ? "identical" : "CODES DIFFER");
        }
        // Other conventions through the same kernels (every core, full statistics).
        // One spiky row makes fms-mo recompute every row with its SAWB clip (aiu-int8 narrow).
        at::Tensor spiky = w.clone();
        spiky[0][0] = 1000.0;
        for (const char* name : { "vllm-w8a8-int8", "vllm-w4a16", "aiu-int8", "aiu-int8 narrow", "nxd-fp8" }) {
            const bool narrow = std::string(name) == "aiu-int8 narrow";
            const qs::QuantScheme scheme = *qs::findSchemePreset(narrow ? "aiu-int8" : name);
            std::int64_t recomputed = 0;
            const double t = qs::bench::bestSeconds(
                [&] { recomputed = qs::quantizeWithScheme(narrow ? spiky : w, scheme).recomputedRows; }, repeat);
            std::printf("%-9s %-15s %6.2f GB/s (%.2fx memcpy)%s\n", c10::toString(type), name, gb / t, tCopy / t,
                recomputed ? (" " + std::to_string(recomputed) + " rows recomputed").c_str() : "");
        }
    }
    return failures == 0 ? 0 : 1;
}
