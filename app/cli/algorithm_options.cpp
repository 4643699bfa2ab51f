// SPDX-License-Identifier: GPL-3.0-or-later
#include "algorithm_options.h"

#include "error.h"

#include <cmath>

namespace qs::cli {

void addAlgorithmOptions(OptionSpec& spec)
{
    spec.flags.insert({ "--gptq", "--awq", "--no-propagate-error", "--rotate-online", "--spinquant", "--awq-clip" });
    spec.values.insert({ "--smoothquant", "--gptq-block-size", "--gptq-dampening", "--gptq-actorder", "--recipe",
        "--awq-duo-scaling", "--awq-grid", "--rotate", "--rotate-seed", "--spinquant-steps", "--spinquant-lr" });
}

std::optional<Recipe> recipeOption(const Arguments& args)
{
    if (args.value("--recipe").empty())
        return std::nullopt;
    for (const char* o : { "--scheme", "--smoothquant", "--gptq-block-size", "--gptq-dampening", "--gptq-actorder",
             "--awq-duo-scaling", "--awq-grid", "--rotate", "--rotate-seed", "--spinquant-steps", "--spinquant-lr" }) {
        if (args.values.count(o))
            throw UsageError(std::string("--recipe gives the scheme and the algorithms: drop ") + o);
    }
    for (const char* o : { "--gptq", "--awq", "--spinquant", "--awq-clip" }) {
        if (args.has(o))
            throw UsageError(std::string("--recipe gives the scheme and the algorithms: drop ") + o);
    }
    Recipe r = readRecipe(args.value("--recipe"));
    if (!r.scheme)
        throw UsageError("the recipe's quantizing modifier names no scheme (scheme: W8A8, or config_groups)",
            ErrorContext { args.value("--recipe"), {}, {} });
    return r;
}

double fractionOption(const std::string& text, const std::string& option, bool closed)
{
    std::size_t used = 0;
    double v = -1;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || !(v >= 0 && (closed ? v <= 1 : v < 1)))
        throw UsageError(option + ": '" + text + "' is not a number in [0, 1" + (closed ? "]" : ")"));
    return v;
}

AlgorithmSettings algorithmSettings(const Arguments& args)
{
    if (const std::optional<Recipe> recipe = recipeOption(args)) {
        AlgorithmSettings a = recipe->algorithms;
        a.propagateError = !args.has("--no-propagate-error");
        return a;
    }
    AlgorithmSettings a;
    if (!args.value("--smoothquant").empty())
        a.smoothQuant = fractionOption(args.value("--smoothquant"), "--smoothquant", true);
    a.gptq = args.has("--gptq");
    a.gptqBlockSize = static_cast<int>(args.integer("--gptq-block-size", 128, 1, 1 << 20));
    if (!args.value("--gptq-dampening").empty())
        a.gptqDampening = fractionOption(args.value("--gptq-dampening"), "--gptq-dampening");
    if (!args.value("--gptq-actorder").empty()) {
        a.gptqActOrder = args.value("--gptq-actorder");
        if (a.gptqActOrder != "static" && a.gptqActOrder != "group" && a.gptqActOrder != "none")
            throw UsageError("--gptq-actorder: '" + a.gptqActOrder + "'; orders: static, group, none");
    }
    if (!a.gptq
        && (args.values.count("--gptq-block-size") || args.values.count("--gptq-dampening")
            || args.values.count("--gptq-actorder")))
        throw UsageError("--gptq-block-size, --gptq-dampening and --gptq-actorder go with --gptq");
    a.rotation = args.value("--rotate");
    if (!a.rotation.empty() && a.rotation != "hadamard" && a.rotation != "random")
        throw UsageError("--rotate: '" + a.rotation + "'; rotations: hadamard, random");
    a.rotationSeed = static_cast<std::uint64_t>(args.integer("--rotate-seed", 0, 0, std::int64_t(1) << 62));
    a.rotationOnline = args.has("--rotate-online");
    a.spinQuant = args.has("--spinquant");
    if (a.spinQuant && a.rotation.empty())
        a.rotation = "hadamard"; // SpinQuant starts from the randomised Hadamard rotation
    if (a.rotation.empty() && (args.values.count("--rotate-seed") || a.rotationOnline))
        throw UsageError("--rotate-seed and --rotate-online go with --rotate or --spinquant");
    a.spinQuantSteps = static_cast<int>(args.integer("--spinquant-steps", 100, 1, 1000000));
    if (!args.value("--spinquant-lr").empty()) {
        std::size_t used = 0;
        double lr = -1;
        try {
            lr = std::stod(args.value("--spinquant-lr"), &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != args.value("--spinquant-lr").size() || !(lr > 0) || !std::isfinite(lr))
            throw UsageError("--spinquant-lr: '" + args.value("--spinquant-lr") + "' is not a positive number");
        a.spinQuantLr = lr;
    }
    if (!a.spinQuant && (args.values.count("--spinquant-steps") || args.values.count("--spinquant-lr")))
        throw UsageError("--spinquant-steps and --spinquant-lr go with --spinquant");
    a.awq = args.has("--awq");
    if (!args.value("--awq-duo-scaling").empty()) {
        a.awqDuoScaling = args.value("--awq-duo-scaling");
        if (a.awqDuoScaling != "true" && a.awqDuoScaling != "false" && a.awqDuoScaling != "both")
            throw UsageError("--awq-duo-scaling: '" + a.awqDuoScaling + "'; values: true, false, both");
    }
    a.awqGrid = static_cast<int>(args.integer("--awq-grid", 20, 2, 1000));
    a.awqClip = args.has("--awq-clip");
    if (!a.awq && (args.values.count("--awq-duo-scaling") || args.values.count("--awq-grid") || a.awqClip))
        throw UsageError("--awq-duo-scaling, --awq-grid and --awq-clip go with --awq");
    if (a.awqClip && a.gptq)
        throw UsageError("--awq-clip goes with round to nearest: GPTQ chooses its own codes (drop one)");
    if (a.awq && a.smoothQuant)
        throw UsageError("--awq and --smoothquant both rescale the balance layers: choose one");
    a.propagateError = !args.has("--no-propagate-error");
    return a;
}

std::string algorithmOptionsUsage()
{
    return "  --smoothquant A      SmoothQuant (llm-compressor's SmoothQuantModifier) with smoothing\n"
           "                       strength A in [0, 1] (0.8 in its W8A8 example): the family's norm ->\n"
           "                       Linear mappings, ranges from the calibration samples; with --format\n"
           "                       aiu fms-mo's DQ SmoothQuant instead (0.65 its default): smoothq_scale\n"
           "                       per smoothed layer, its weight quantized as W * s\n"
           "  --rotate R           fuse rotations into the weights first (Llama family; QuaRot's offline\n"
           "                       R1 on the residual stream with the norms folded in, R2 per head):\n"
           "                       hadamard (randomised) or random (orthogonal); --rotate-seed N (0);\n"
           "                       --rotate-online adds QuaRot's online Hadamard on the down\n"
           "                       projection's input (eval only: no export format carries it)\n"
           "  --spinquant          SpinQuant: learn R1 and R2 on the calibration samples before fusing\n"
           "                       them, from the --rotate rotation (hadamard when not given); the loss is\n"
           "                       the quantized model's next-token loss (weights float when --gptq\n"
           "                       follows); --spinquant-steps N (100), --spinquant-lr F (1.5, Cayley\n"
           "                       SGD; lower it for narrow models: 0.3 for stories260K's 64 channels;\n"
           "                       the start is kept when learning ends above it); memory stays bounded\n"
           "                       (per-layer recomputation); a step costs about four forward passes\n"
           "                       over the step's samples\n"
           "  --awq                AWQ (llm-compressor's AWQ transform) before the rounding or GPTQ, for\n"
           "                       weight-only schemes: per mapping (q/k/v <- input_layernorm, o <- v,\n"
           "                       gate/up <- post_attention_layernorm, down <- up) the input channels\n"
           "                       scaled by the grid point with the lowest output error of the parent;\n"
           "                       --awq-duo-scaling true|false|both (true), --awq-grid N (20);\n"
           "                       --awq-clip adds llm-awq's clip search after the scales (per group the\n"
           "                       clip of max|w| shrunk up to 50% in 20 steps with the lowest output\n"
           "                       error; not q/k; round to nearest only)\n"
           "  --gptq               GPTQ (llm-compressor's GPTQModifier) instead of rounding, layer by\n"
           "                       layer on the calibration samples: --gptq-block-size N (128),\n"
           "                       --gptq-dampening F (0.01), --gptq-actorder static|group|none (static)\n"
           "  --no-propagate-error feed each layer the float model's outputs instead of the calibrated\n"
           "                       ones\n"
           "  --recipe FILE        an llm-compressor recipe (YAML): SmoothQuantModifier, GPTQModifier or\n"
           "                       QuantizationModifier with their arguments give the scheme, the\n"
           "                       algorithms and the ignore list (instead of --scheme, --smoothquant,\n"
           "                       --gptq)\n";
}

nlohmann::ordered_json spinQuantJson(const SpinQuantReport& r)
{
    return { { "steps", r.steps }, { "lr", r.lr }, { "samples", r.samples }, { "batch", r.batch }, { "tokens", r.tokens },
        { "weights_quantized", r.weightsQuantized }, { "activations", r.activations },
        { "initial_loss", r.initialLoss }, { "final_loss", r.finalLoss }, { "kept_start", r.keptStart }, { "losses", r.losses },
        { "step_sizes", r.stepSizes }, { "seconds", r.seconds }, { "seconds_per_step", r.secondsPerStep },
        { "planned_bytes", r.plannedBytes } };
}

} // namespace qs::cli
