// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli calibrate MODEL --data FILE -o OUT.h5 [--seq-len N] [--samples N] [--json]`:
// runs the model on sample windows and stores the activation statistics of every capture point
// (Linear inputs and the twelve named points per layer) in an HDF5 file.
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "io/checkpoint.h"
#include "quant/quant_scheme.h"
#include "runtime/activation_store.h"
#include "runtime/calibration.h"
#include "runtime/memory.h"
#include "terminal_progress.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

std::string calibrateUsage()
{
    return "quantscope-cli calibrate MODEL --data FILE -o OUT.h5 [--seq-len N] [--samples N] [--seed N]\n"
           "                         [--sample-rows N] [--bins N] [--linear-only] [--force] [--json]\n"
           "  Run the model (any supported family) on sample windows of the data and store, for the input of every\n"
           "  Linear module and the twelve named points of each layer (attention input, q, k, softmax\n"
           "  input, probabilities, v, PV output, attention output; MLP input, activation input and\n"
           "  output, MLP output), per-channel min/max/abs-max/mean/mean-square, the per-token max, a\n"
           "  histogram and the first rows, in OUT.h5 (/activations/<point>/...).\n"
           "  --data FILE      token ids (.json), JSON lines with \"text\", or text (the model's tokenizer)\n"
           "  --seq-len N      tokens per window (default 256); --samples N windows (default 16)\n"
           "  --max-memory S   the resident memory to plan for (800M, 1.5G; default: 80% of what is\n"
           "                   available); the model runs one layer at a time\n"
           "  --seed N         shuffle the windows with this seed (default 0: the first windows)\n"
           "  --sample-rows N  raw rows kept per point for heatmaps (default 256)\n"
           "  --linear-only    only the Linear inputs\n"
           "  --json           print {\"file\", \"points\", \"tokens\", \"windows\", \"seq_len\", "
           "\"model_type\"}\n";
}

int runCalibrate(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json", "--linear-only", "--force" };
    spec.values = { "--data", "--output", "--seq-len", "--samples", "--seed", "--sample-rows", "--bins", "--max-memory" };
    spec.aliases = { { "-o", "--output" } };
    const Arguments args = parseArguments("calibrate", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'calibrate' needs exactly one model: quantscope-cli calibrate MODEL --data FILE -o OUT.h5");
    if (args.value("--data").empty() || args.value("--output").empty())
        throw UsageError("calibrate needs --data FILE and -o OUT.h5");
    const std::filesystem::path output = args.value("--output");
    if (std::filesystem::exists(output) && !args.has("--force"))
        throw UsageError("'" + output.string() + "' exists; pass --force to replace it");
    CalibrationRequest request;
    request.data = args.value("--data");
    request.seqLen = static_cast<int>(args.integer("--seq-len", 256, 1, 1 << 20));
    request.samples = static_cast<int>(args.integer("--samples", 16, 1, 1 << 24));
    if (!args.value("--max-memory").empty())
        request.maxMemory = parseByteSize(args.value("--max-memory"), "--max-memory");
    request.seed = static_cast<std::uint64_t>(args.integer("--seed", 0, 0, (1LL << 62)));
    request.sampleRows = args.integer("--sample-rows", 256, 0, 1 << 20);
    request.histogramBins = static_cast<int>(args.integer("--bins", 2048, 4, 1 << 20));
    if (request.histogramBins % 4 != 0)
        throw UsageError("--bins: a multiple of 4, for the range doubling");
    request.namedPoints = !args.has("--linear-only");

    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    TerminalProgress progress;
    const CalibrationResult result = calibrate(checkpoint, request, progress);
    progress.finish();
    const nlohmann::json attributes { { "model", args.positional.front() }, { "model_type", result.modelType },
        { "data", request.data.string() }, { "seq_len", request.seqLen }, { "samples", result.windows },
        { "tokens", result.tokens }, { "seed", request.seed } };
    writeActivationsHdf5(output, result.points, attributes);
    if (args.has("--json")) {
        const nlohmann::ordered_json j { { "file", output.string() }, { "points", result.points.size() },
            { "tokens", result.tokens }, { "windows", result.windows }, { "seq_len", request.seqLen },
            { "model_type", result.modelType }, { "peak_rss_bytes", peakRssBytes() } };
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("wrote %s: %zu capture points over %lld tokens (%d windows of %d)\n", output.string().c_str(),
            result.points.size(), static_cast<long long>(result.tokens), result.windows, request.seqLen);
    }
    return 0;
}

} // namespace

extern const Command calibrateCommand { "calibrate", "record activation statistics on text into an HDF5 file",
    calibrateUsage, runCalibrate };

} // namespace qs::cli
