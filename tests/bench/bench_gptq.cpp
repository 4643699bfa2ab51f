// SPDX-License-Identifier: GPL-3.0-or-later
// GPTQ of one Linear weight: QuantScope's (core/algo/gptq.h) against the plain-PyTorch loop of
// tests/interop/reference_gptq.py (llm-compressor's conventions) on a layer of the same size, in
// the same run, with the same threads: the Hessian from the calibration tokens, then the
// quantization loop, each the best of two runs. Prints seconds and ratios. Default: a 4096 x 4096
// layer, 16k tokens, int4 group 128, activation order static.
//   bench_gptq [--rows N --cols N --tokens N --bits B --group G --threads T] --python PY --script PATH
#include "algo/gptq.h"
#include "bench_support.h"
#include "jobs/threads.h"
#include "quant/quant_scheme.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv)
{
    long long rows = 4096, cols = 4096, tokens = 16384, bits = 4, group = 128;
    std::string python = "/usr/bin/python3", script;
    int threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const std::string v = argv[i + 1];
        if (a == "--rows")
            rows = std::atoll(v.c_str());
        else if (a == "--cols")
            cols = std::atoll(v.c_str());
        else if (a == "--tokens")
            tokens = std::atoll(v.c_str());
        else if (a == "--bits")
            bits = std::atoll(v.c_str());
        else if (a == "--group")
            group = std::atoll(v.c_str());
        else if (a == "--python")
            python = v;
        else if (a == "--script")
            script = v;
        else if (a == "--threads")
            threads = std::atoi(v.c_str());
    }
    qs::useIntraOpThreads(threads); // as the app does: every core unless told
    qs::QuantScheme s = *qs::findSchemePreset("vllm-w4a16");
    s.bits = static_cast<int>(bits);
    s.granularity = group > 0 ? qs::Granularity::Group : qs::Granularity::Channel;
    s.groupSize = static_cast<int>(group);
    s.validate();
    at::manual_seed(0);
    const at::Tensor w = at::randn({ rows, cols }) * 0.02;
    const at::Tensor x = at::randn({ std::max(1LL, tokens / 512), std::min(tokens, 512LL), cols });
    at::Tensor h;
    const double hessian = qs::bench::bestSeconds(
        [&] {
            qs::HessianAccumulator acc(cols);
            for (std::int64_t i = 0; i < x.size(0); ++i)
                acc.add(x[i]);
            h = acc.hessian();
        },
        2);
    qs::GptqResult r;
    const double loop = qs::bench::bestSeconds([&] { r = qs::gptqQuantize(w, h, s); }, 2);
    std::printf("GPTQ of a %lld x %lld weight, %lld calibration tokens, int%lld %s, %d threads\n", rows, cols, tokens,
        bits, group > 0 ? ("group " + std::to_string(group)).c_str() : "per channel", at::get_num_threads());
    std::printf("  QuantScope: Hessian %.3f s, GPTQ %.3f s (loss %.4g)\n", hessian, loop, r.loss);
    if (script.empty())
        return 0;
    const std::string command = python + " " + script + " " + std::to_string(rows) + " " + std::to_string(cols) + " "
        + std::to_string(tokens) + " " + std::to_string(bits) + " " + std::to_string(group) + " "
        + std::to_string(at::get_num_threads()) + " 2";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe)
        return 1;
    char buffer[512] = {};
    const std::size_t n = std::fread(buffer, 1, sizeof buffer - 1, pipe);
    const int status = ::pclose(pipe);
    double refHessian = 0, refLoop = 0;
    if (status != 0 || n == 0
        || std::sscanf(buffer, "{\"hessian_seconds\": %lf, \"gptq_seconds\": %lf", &refHessian, &refLoop) != 2) {
        std::fprintf(stderr, "bench_gptq: the reference failed: %s\n", buffer);
        return 1;
    }
    std::printf("  PyTorch reference: Hessian %.3f s, GPTQ %.3f s\n", refHessian, refLoop);
    std::printf("  ratio reference/QuantScope: Hessian %.2fx, GPTQ %.2fx, per module (both) %.2fx\n",
        refHessian / hessian, refLoop / loop, (refHessian + refLoop) / (hessian + loop));
    return 0;
}
