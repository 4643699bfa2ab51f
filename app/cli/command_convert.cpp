// SPDX-License-Identifier: GPL-3.0-or-later
#include "algorithm_options.h"
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "export_output.h"
#include "io/checkpoint.h"
#include "jobs/conversion_job.h"
#include "jobs/conversion_plan.h"
#include "jobs/conversion_report.h"
#include "keep_options.h"
#include "model/module_tree.h"
#include "project/project.h"
#include "project/project_conversion.h"
#include "quant/calibrated_tensors.h"
#include "quant/quant_scheme.h"
#include "runtime/calibrated_export.h"
#include "runtime/export_calibration.h"
#include "runtime/memory.h"
#include "select/keep_list_io.h"
#include "select/selection.h"
#include "terminal_progress.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

// "10GB" (decimal, as Hugging Face counts), "512MiB", or plain bytes.
std::uint64_t parseByteSize(const std::string& text)
{
    std::size_t pos = 0;
    double number = 0;
    try {
        number = std::stod(text, &pos);
    } catch (const std::exception&) {
        throw UsageError("--max-shard-size: '" + text + "' is not a size such as 5GB or 500MB");
    }
    std::string unit = text.substr(pos);
    for (auto& c : unit)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::pair<const char*, double> units[] = { { "", 1 }, { "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 },
        { "TB", 1e12 }, { "KIB", 1024.0 }, { "MIB", 1048576.0 }, { "GIB", 1073741824.0 } };
    for (const auto& [name, factor] : units) {
        if (unit == name && number > 0)
            return static_cast<std::uint64_t>(std::llround(number * factor));
    }
    throw UsageError("--max-shard-size: '" + text + "' is not a positive size such as 5GB or 500MB");
}

// --scheme PRESET, then single fields overridden by their own options.
QuantScheme schemeFromArguments(const Arguments& args, const std::string& defaultPreset)
{
    const std::string name = args.value("--scheme", defaultPreset);
    const auto found = findSchemePreset(name);
    if (!found) {
        std::string names;
        for (const auto& p : schemePresets())
            names += (names.empty() ? "" : ", ") + p.name;
        throw UsageError("unknown --scheme '" + name + "'; presets: " + names);
    }
    nlohmann::ordered_json overrides = nlohmann::ordered_json::object();
    auto integer = [&](const char* option, const char* field) {
        if (!args.values.count(option))
            return;
        try {
            std::size_t used = 0;
            const long long v = std::stoll(args.value(option), &used);
            if (used != args.value(option).size())
                throw std::invalid_argument("trailing");
            overrides[field] = v;
        } catch (const std::exception&) {
            throw UsageError(std::string(option) + ": '" + args.value(option) + "' is not an integer");
        }
    };
    integer("--bits", "bits");
    integer("--group-size", "group_size");
    integer("--seed", "seed");
    if (args.values.count("--granularity"))
        overrides["granularity"] = args.value("--granularity");
    if (args.values.count("--rounding"))
        overrides["rounding"] = args.value("--rounding");
    if (args.values.count("--fp8-max")) {
        try {
            overrides["fp8_max"] = std::stod(args.value("--fp8-max"));
        } catch (const std::exception&) {
            throw UsageError("--fp8-max: '" + args.value("--fp8-max") + "' is not a number");
        }
    }
    if (args.has("--symmetric") && args.has("--affine"))
        throw UsageError("--symmetric and --affine exclude each other");
    if (args.has("--symmetric") || args.has("--affine"))
        overrides["symmetric"] = args.has("--symmetric");
    if (args.has("--recompute-narrow-weights") && args.has("--no-recompute-narrow-weights"))
        throw UsageError("--recompute-narrow-weights and --no-recompute-narrow-weights exclude each other");
    if (args.has("--recompute-narrow-weights") || args.has("--no-recompute-narrow-weights"))
        overrides["recompute_narrow_weights"] = args.has("--recompute-narrow-weights");
    if (args.has("--float32-math"))
        overrides["weight_dtype_math"] = false;
    if (overrides.contains("granularity") && overrides["granularity"] != "group" && !overrides.contains("group_size"))
        overrides["group_size"] = 0;
    if (overrides.contains("group_size") && !overrides.contains("granularity") && overrides["group_size"] != 0)
        overrides["granularity"] = "group";
    QuantScheme scheme = schemeFromJson(overrides, *found);
    if (!overrides.empty())
        scheme.name = found->name + " (modified)";
    scheme.validate();
    return scheme;
}

std::string convertUsage()
{
    return "quantscope-cli convert PATH -o OUT --format FORMAT [--scheme PRESET] [keep options] [--force]\n"
           "                       [--json] [--max-shard-size SIZE] [scheme field options]\n"
           "  Quantize every Linear weight with a scheme and write OUT.\n"
           "  --scheme PRESET      nxd-int8 (default), nxd-int8-tensor, nxd-fp8 (e4m3 within +-240),\n"
           "                       nxd-fp8-e5m2, ... ('quantscope-cli schemes' lists them all; the\n"
           "                       nxd format accepts the nxd-* presets)\n"
           "  --bits N, --granularity tensor|channel|group, --group-size N, --symmetric, --affine,\n"
           "  --rounding nearest-even|stochastic, --fp8-max X, --seed N\n"
           "                       override single fields of the preset\n"
           "  --recompute-narrow-weights, --no-recompute-narrow-weights\n"
           "                       turn fms-mo's narrow-weight recomputation on or off (aiu-int8 turns\n"
           "                       it on; qcfg.json's recompute_narrow_weights says which was used)\n"
           "  --save-project FILE  also save what this conversion did as a project (.qsproj) that\n"
           "                       'quantscope-cli run' and the GUI's File > Open Project replay\n"
           "  --float32-math       compressed-tensors presets: compute in float32 instead of the\n"
           "                       weight's bf16/fp16 (llm-compressor's own, bit-exact, the default)\n"
           "  --format nxd         AWS Neuron NxD: <module>.weight int8 + <module>.scale float32 [out,1],\n"
           "                       modules_to_not_convert.json (default scheme nxd-int8)\n"
           "  --nxd-keep-shape S   modules_to_not_convert.json as flat (default), model ({\"model\": ...})\n"
           "                       or draft (with the same list for \"draft_model\")\n"
           "  --format compressed-tensors  vLLM: int-quantized (vllm-w8a8-int8, the default),\n"
           "                       float-quantized (vllm-fp8-dynamic), pack-quantized (vllm-w4a16,\n"
           "                       vllm-w8a16); config.json gains quantization_config with the kept\n"
           "                       Linear modules in ignore; recipe.yaml\n"
           "  --format aiu         IBM AIU (fms-mo): qmodel_for_aiu.pt (int8 weights, fp16 clip_val, the\n"
           "                       rest fp16) + qcfg.json; llama, granite, gpt_bigcode, bert, roberta\n"
           "                       (default scheme aiu-int8, with narrow-weight recomputation)\n"
           "  --format hdf5        an analysis dump, quantscope_dump.h5: per quantized weight its codes,\n"
           "                       scale, zero point, code histogram and per-row code std, with the\n"
           "                       scheme and error as attributes (any scheme; default nxd-int8)\n"
           "  --hdf5-original      also store every tensor's float32 values\n"
           "  --hdf5-gzip N        gzip level of the dump's datasets (default 4, 0 for none)\n"
           "  --format nxd-fp8-rescale  an fp8 e4m3 checkpoint (+-448, e.g. compressed-tensors FP8)\n"
           "                       rescaled for Neuron's +-240: weights / (448/240), scales * 448/240\n"
        + keepOptionsUsage()
        + "  --force              replace OUT if it exists\n"
          "  --max-shard-size S   shard size such as 10GB (default) or 500MB\n"
          "  --workers N          tensors quantized at once (default: one per core)\n"
          "  --memory-budget S    bound on the input bytes in flight, such as 2GiB (default)\n"
          "  --json               print a report with per-tensor errors (and with a calibration\n"
          "                       \"calibration\": {\"algorithms\", \"samples\", \"tokens\", ...} and per\n"
          "                       tensor \"gptq_loss\")\n"
          "Calibration (llm-compressor's oneshot, layer by layer in bounded memory):\n"
        + algorithmOptionsUsage()
        + "  --activations M      override the scheme's activations; int8-tensor-static and\n"
          "                       fp8-tensor-static write each module's input_scale (compressed-tensors)\n"
          "  --calibration-data FILE  token ids or text (as eval's --data) for the calibration\n"
          "  --calibration-samples N  samples (default 64) of --calibration-seq-len N tokens (default 512)\n"
          "  --max-memory SIZE    the calibration's resident memory (default: 80% of what is available)\n"
          "  --spill-dir DIR      where hidden states beyond it go\n";
}

// How the output is written (--nxd-keep-shape, --hdf5-gzip, --hdf5-original, --max-shard-size),
// into the project's export target.
void setOutputOptions(const Arguments& args, ProjectExport& output)
{
    if (args.values.count("--nxd-keep-shape")) {
        const std::string shape = args.value("--nxd-keep-shape");
        if (shape != "flat" && shape != "model" && shape != "draft")
            throw UsageError("--nxd-keep-shape: '" + shape + "'; shapes: flat, model, draft");
        output.nxdKeepShape = shape == "flat" ? 0 : shape == "model" ? 1 : 2;
    }
    if (args.values.count("--hdf5-gzip")) {
        const std::string level = args.value("--hdf5-gzip");
        if (level.size() != 1 || level[0] < '0' || level[0] > '9')
            throw UsageError("--hdf5-gzip: '" + level + "' is not a gzip level (0 to 9)");
        output.hdf5Gzip = level[0] - '0';
    }
    output.hdf5IncludeOriginal = args.has("--hdf5-original");
    if (args.values.count("--max-shard-size"))
        output.maxShardBytes = parseByteSize(args.value("--max-shard-size"));
}

// What the conversion may use, which changes no byte of it: --memory-budget, --workers,
// --max-memory and --spill-dir.
void setResourceOptions(const Arguments& args, ProjectConversion& conversion)
{
    ConversionOptions& options = conversion.options;
    if (args.values.count("--memory-budget"))
        options.memoryBudgetBytes = parseByteSize(args.value("--memory-budget"));
    if (args.values.count("--workers")) {
        try {
            options.workers = std::stoi(args.value("--workers"));
        } catch (const std::exception&) {
            options.workers = -1;
        }
        if (options.workers < 1 || options.workers > 256)
            throw UsageError("--workers: '" + args.value("--workers") + "' is not a number of workers (1 to 256)");
    }
    if (!args.value("--max-memory").empty())
        conversion.calibration.maxMemory = qs::parseByteSize(args.value("--max-memory"), "--max-memory");
    conversion.calibration.spillDirectory = args.value("--spill-dir");
}

// Calibration options that do not fit the format or the rest, refused before anything loads.
void checkCalibration(const Arguments& args, ExportFormat format, const AlgorithmSettings& a, bool calibrating)
{
    if (calibrating && args.value("--calibration-data").empty())
        throw UsageError(
            std::string(a.needsData() ? "SpinQuant, SmoothQuant, AWQ and GPTQ" : "static activation scales")
            + " calibrate on data: give --calibration-data FILE");
    if (!calibrating && !args.value("--calibration-data").empty())
        throw UsageError(
            "--calibration-data goes with --smoothquant, --awq, --gptq, --spinquant or a static activation scheme");
    if (a.gptq && (format == ExportFormat::Hdf5 || format == ExportFormat::NxdFp8Rescale))
        throw UsageError("--gptq writes its codes into nxd, compressed-tensors or aiu checkpoints");
    if (a.gptq && a.gptqActOrder == "group" && format != ExportFormat::CompressedTensors)
        throw UsageError("--gptq-actorder group needs the g_idx that only compressed-tensors writes (weight_g_idx): "
                         "use static (the default) or none for this format");
    if (a.smoothQuant && a.gptq && format == ExportFormat::Aiu)
        throw UsageError("--smoothquant with --format aiu is fms-mo's SmoothQuant (smoothq_scale), which rounds W * s: "
                         "drop --gptq");
}

// The conversion the arguments describe, as a project (what --save-project writes and `run`
// replays); projectConversion turns it into the export, as it does for the GUI and `run`.
Project projectFromArguments(const Arguments& args, const Checkpoint& checkpoint, const ModuleTree& tree,
    const QuantScheme& scheme, const AlgorithmSettings& algorithms, ExportFormat format)
{
    Project p;
    p.checkpoint = checkpoint.path();
    p.rules = keepRulesFromArguments(args, checkpoint, tree, scheme);
    p.scheme = scheme;
    p.algorithms = algorithms;
    if (!args.value("--calibration-data").empty())
        p.calibration = ProjectCalibration { args.value("--calibration-data"),
            static_cast<int>(args.integer("--calibration-samples", 64, 1, 1 << 20)),
            static_cast<int>(args.integer("--calibration-seq-len", 512, 1, 1 << 20)) };
    p.output.format = format;
    p.output.destination = args.value("--output");
    p.output.overwrite = args.has("--force");
    setOutputOptions(args, p.output);
    return p;
}

int runConvert(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.values = { "--output", "--format", "--max-shard-size", "--hdf5-gzip", "--nxd-keep-shape", "--scheme", "--bits",
        "--granularity", "--group-size", "--rounding", "--fp8-max", "--seed", "--workers", "--memory-budget",
        "--activations", "--calibration-data", "--calibration-samples", "--calibration-seq-len", "--max-memory",
        "--spill-dir", "--save-project" };
    spec.flags = { "--force", "--json", "--symmetric", "--affine", "--recompute-narrow-weights",
        "--no-recompute-narrow-weights", "--float32-math", "--hdf5-original" };
    addKeepOptions(spec);
    addAlgorithmOptions(spec);
    spec.aliases = { { "-o", "--output" } };
    const Arguments args = parseArguments("convert", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'convert' needs exactly one checkpoint path: " + convertUsage());
    const std::string output = args.value("--output");
    if (output.empty())
        throw UsageError("'convert' needs an output folder (-o OUT)");
    const std::string formatName = args.value("--format");
    if (formatName.empty())
        throw UsageError("'convert' needs --format; available: nxd, compressed-tensors, aiu, hdf5, nxd-fp8-rescale");
    const auto format = exportFormatFromName(formatName);
    if (!format)
        throw UsageError(
            "unknown --format '" + formatName + "'; available: nxd, compressed-tensors, aiu, hdf5, nxd-fp8-rescale");

    const std::optional<Recipe> recipe = recipeOption(args);
    QuantScheme scheme = recipe ? *recipe->scheme
                                : schemeFromArguments(args,
                                    *format == ExportFormat::CompressedTensors ? "vllm-w8a8-int8"
                                        : *format == ExportFormat::Aiu         ? "aiu-int8"
                                                                               : "nxd-int8");
    if (!args.value("--activations").empty()) {
        scheme.activations = args.value("--activations");
        scheme.validate();
    }
    const AlgorithmSettings algorithms = algorithmSettings(args);
    const bool calibrating = exportNeedsCalibration(scheme, algorithms) || algorithms.spinQuant;
    checkCalibration(args, *format, algorithms, calibrating);
    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());

    const Project project = projectFromArguments(args, checkpoint, tree, scheme, algorithms, *format);
    ProjectConversion conversion = projectConversion(project, tree);
    setResourceOptions(args, conversion);
    const std::vector<std::string>& warnings = conversion.warnings;
    for (const auto& w : warnings)
        std::fprintf(stderr, "warning: %s\n", w.c_str());

    TerminalProgress progress;
    const CalibratedExport result
        = exportWithAlgorithms(checkpoint, tree, conversion.options, conversion.calibration, progress);
    const ConversionReport& report = result.conversion;
    progress.finish();
    for (const auto& stale : report.removedStaleStaging)
        std::fprintf(stderr, "note: removed %s, left by a conversion that was killed\n", stale.string().c_str());

    if (!args.value("--save-project").empty())
        writeProject(args.value("--save-project"), project);
    printExportResult(checkpoint, result, scheme, warnings, args.has("--json"));
    return 0;
}

} // namespace

extern const Command convertCommand { "convert", "quantize and export a checkpoint", convertUsage, runConvert };

} // namespace qs::cli
