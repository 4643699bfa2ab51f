// SPDX-License-Identifier: GPL-3.0-or-later
#include "eval_options.h"

#include "algorithm_options.h"
#include "error.h"
#include "runtime/memory.h"
#include "scheme_option.h"
#include "select/recipe.h"

namespace qs::cli {

void addEvaluationOptions(OptionSpec& spec)
{
    for (const char* o : { "--data", "--seq-len", "--protocol", "--scheme", "--max-windows", "--activations",
             "--calibration-data", "--calibration-samples", "--mask-token", "--mask-every", "--max-memory", "--spill-dir",
             "--calibration-seq-len" })
        spec.values.insert(o);
    addAlgorithmOptions(spec);
}

EvaluationRequest evaluationRequest(const Arguments& args)
{
    EvaluationRequest request;
    request.data = args.value("--data");
    request.seqLen = static_cast<int>(args.integer("--seq-len", 256, 2, 1 << 20));
    request.maxWindows = static_cast<int>(args.integer("--max-windows", 0, 0, 1 << 30));
    request.protocol = args.value("--protocol");
    if (!request.protocol.empty() && request.protocol != "overlap" && request.protocol != "blocks"
        && request.protocol != "masked")
        throw UsageError("--protocol: '" + request.protocol + "'; protocols: overlap, blocks, masked");
    const std::optional<Recipe> recipe = recipeOption(args);
    request.scheme = recipe ? recipe->scheme : schemeOption(args);
    request.activations = args.value("--activations");
    if (!request.activations.empty() && !request.scheme)
        throw UsageError("--activations goes with --scheme");
    request.calibrationData = args.value("--calibration-data");
    request.calibrationSamples = static_cast<int>(args.integer("--calibration-samples", 8, 1, 1 << 20));
    request.calibrationSeqLen = static_cast<int>(args.integer("--calibration-seq-len", 0, 0, 1 << 20));
    applyAlgorithms(request, algorithmSettings(args));
    if (request.awq && !request.scheme)
        throw UsageError("--awq goes with --scheme (a weight-only scheme: AWQ protects its salient channels)");
    if (request.gptq && !request.scheme)
        throw UsageError("--gptq goes with --scheme (an int scheme: GPTQ chooses its codes)");
    if (request.smoothQuant && !request.scheme)
        throw UsageError("--smoothquant goes with --scheme (it prepares the model for quantized activations)");
    request.maskToken = args.integer("--mask-token", -1, -1, std::int64_t(1) << 40);
    request.maskEvery = static_cast<int>(args.integer("--mask-every", 7, 1, 1 << 20));
    if (!args.value("--max-memory").empty())
        request.maxMemory = parseByteSize(args.value("--max-memory"), "--max-memory");
    request.spillDirectory = args.value("--spill-dir");
    return request;
}

} // namespace qs::cli
