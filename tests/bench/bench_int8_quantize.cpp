// Per-channel int8 (NxD) of a bf16 and an fp32 weight: QuantScope's fused kernel against the
// same math written as libtorch eager ops, and against memcpy of the input, in one run.
// Prints GB/s of input read and the ratios. Default size: a Llama-7B MLP weight.
#include "quant/int8_per_channel.h"
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
#include <vector>

namespace {

double seconds(const std::function<void()>& f, int repeat)
{
    double best = 1e30;
    for (int i = 0; i < repeat; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

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
    std::int64_t rows = 11008;
    std::int64_t cols = 4096;
    int repeat = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--rows")
            rows = std::atoll(argv[i + 1]);
        else if (a == "--cols")
            cols = std::atoll(argv[i + 1]);
        else if (a == "--repeat")
            repeat = std::atoi(argv[i + 1]);
    }
    std::printf("per-channel int8 (NxD) of a %lld x %lld weight, best of %d, %d threads\n",
        static_cast<long long>(rows), static_cast<long long>(cols), repeat, at::get_num_threads());
    int failures = 0;
    for (const auto type : { at::kBFloat16, at::kFloat }) {
        const at::Tensor w = at::randn({ rows, cols }).to(type);
        const double gb = static_cast<double>(w.numel() * w.element_size()) / 1e9;
        std::vector<char> copy(static_cast<std::size_t>(w.numel() * w.element_size()));
        const double tCopy = seconds([&] { std::memcpy(copy.data(), w.data_ptr(), copy.size()); }, repeat);
        qs::QuantizedTensor q;
        const double tKernel = seconds([&] { q = qs::quantizeInt8PerChannelNxd(w); }, repeat);
        std::pair<at::Tensor, at::Tensor> ref;
        const double tEager = seconds([&] { ref = eager(w); }, repeat);
        const bool same = at::equal(q.codes, ref.first);
        failures += same ? 0 : 1;
        std::printf("%-9s memcpy %6.2f GB/s | kernel %6.2f GB/s (%.2fx memcpy) | eager %6.2f GB/s | kernel/eager "
                    "%.1fx | codes %s\n",
            c10::toString(type), gb / tCopy, gb / tKernel, tCopy / tKernel, gb / tEager, tEager / tKernel,
            same ? "identical" : "DIFFER");
        // The generic scheme quantizer (every convention; not yet vectorised), same input.
        for (const char* name : { "nxd-int8", "vllm-w8a8-int8", "vllm-w4a16" }) {
            const qs::QuantScheme scheme = *qs::findSchemePreset(name);
            const double tScheme = seconds([&] { qs::quantizeWithScheme(w, scheme); }, repeat);
            std::printf("%-9s scheme %-15s %6.2f GB/s (%.2fx memcpy, %.1fx eager int8)\n", c10::toString(type), name,
                gb / tScheme, tCopy / tScheme, tEager / tScheme);
        }
    }
    return failures == 0 ? 0 : 1;
}
