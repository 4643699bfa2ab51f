// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli stats PATH [--tensor NAME]... [--scheme PRESET] [--compare OTHER] [--json]`:
// the statistics behind the analysis views, per tensor, for scripts.
#include "analysis_options.h"
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "io/checkpoint.h"
#include "jobs/conversion_plan.h"
#include "model/module_tree.h"
#include "quant/quant_scheme.h"
#include "scheme_option.h"
#include "stats/tensor_analysis.h"
#include "stats/tensor_comparison.h"
#include "stats_json.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

std::string shapeText(const std::vector<std::int64_t>& shape)
{
    std::string s;
    for (std::size_t i = 0; i < shape.size(); ++i)
        s += (i ? "x" : "") + std::to_string(shape[i]);
    return s.empty() ? "scalar" : s;
}

void printRow(const TensorAnalysis& a, std::size_t width, bool withScheme)
{
    const auto& s = a.summary;
    std::printf("%-*s  %-5s  %-12s  %11.4g  %11.4g  %11.4g  %10.4g  %8.3g", static_cast<int>(width),
        a.info.name.c_str(), std::string(dtypeName(a.info.dtype)).c_str(), shapeText(a.info.shape).c_str(), s.min,
        s.max, s.mean, s.std, s.kurtosis);
    if (withScheme && a.quantized) {
        const auto& cs = a.channels.codeStd;
        const double minStd = cs.empty() ? 0.0 : *std::min_element(cs.begin(), cs.end());
        std::printf("  %8.2f  %10.3g  %8.2f", a.error.sqnrDb, a.error.mse, minStd);
    }
    std::printf("\n");
}

std::string statsUsage()
{
    return "quantscope-cli stats PATH [--tensor NAME]... [--scheme PRESET] [--bins N] [--histogram]\n"
           "                     [--channels] [--compare OTHER] [--json]\n"
           "  Statistics of every tensor (or of the named ones), computed as the GUI's analysis views do.\n"
           "  --scheme PRESET   also quantize: Linear weights (and any floating tensor named with\n"
           "                    --tensor) get the error and the per-channel std of their int codes\n"
           "  --bins N          histogram bins (default 200)\n"
           "  --histogram       include the histogram counts (and the code histogram)\n"
           "  --channels        include per-channel min, max, mean, std and abs-max\n"
           "  --compare OTHER   the same tensors in another checkpoint (e.g. an export): its statistics\n"
           "                    and the difference (MSE, SQNR, cosine, max |error|)\n"
           "  --json            print {\"path\", \"scheme\", \"tensors\": [{\"name\", \"dtype\", \"shape\",\n"
           "                    \"count\", \"min\", \"max\", \"mean\", \"std\", \"kurtosis\", \"zeros\",\n"
           "                    \"sparsity\", \"non_finite\", \"outliers\", \"outlier_share\", \"percentiles\",\n"
           "                    \"outlier_channels\", \"quantized\", and with a scheme \"mse\", \"sqnr_db\",\n"
           "                    \"cosine\", \"max_abs_error\", \"code_std\" [per channel], \"code_std_min\",\n"
           "                    \"channels_below_threshold\", \"code_std_before\", ...}]}\n";
}

int runStats(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json", "--histogram", "--channels" };
    spec.values = { "--tensor", "--scheme", "--bins", "--compare" };
    const Arguments args = parseArguments("stats", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'stats' needs exactly one checkpoint path: quantscope-cli stats PATH [--tensor NAME] "
                         "[--scheme PRESET] [--json]");
    const std::optional<QuantScheme> scheme = schemeOption(args);
    const int bins = static_cast<int>(args.integer("--bins", 200, 1, 100000));
    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());

    std::vector<std::string> names = args.all("--tensor");
    const bool named = !names.empty();
    for (const auto& n : names) {
        if (!checkpoint.find(n))
            throw UsageError("no tensor named '" + n + "' in " + args.positional.front());
    }
    if (!named) {
        for (const TensorInfo& t : checkpoint.tensors()) {
            // Tied aliases repeat another tensor; a quantized checkpoint's scales and zero
            // points are described through the weight they belong to.
            if (t.aliasOf.empty() && checkpoint.quantization().companions.count(t.name) == 0)
                names.push_back(t.name);
        }
    }
    std::optional<Checkpoint> other;
    if (!args.value("--compare").empty())
        other = Checkpoint::open(args.value("--compare"));

    const AnalysisOptions options = analysisOptions(scheme, bins, named);
    StatsJsonOptions jsonOptions;
    jsonOptions.histogram = args.has("--histogram");
    jsonOptions.channels = args.has("--channels");

    nlohmann::ordered_json out;
    out["path"] = args.positional.front();
    out["scheme"] = scheme ? nlohmann::ordered_json(scheme->name) : nlohmann::ordered_json(nullptr);
    if (other)
        out["compare"] = args.value("--compare");
    out["tensors"] = nlohmann::ordered_json::array();
    std::size_t width = 4;
    for (const auto& n : names)
        width = std::max(width, n.size());
    if (!args.has("--json")) {
        std::printf("%-*s  %-5s  %-12s  %11s  %11s  %11s  %10s  %8s%s\n", static_cast<int>(width), "NAME", "DTYPE",
            "SHAPE", "MIN", "MAX", "MEAN", "STD", "KURT", scheme ? "  SQNR dB         MSE  MIN CODE STD" : "");
    }
    for (const auto& name : names) {
        const TensorAnalysis a = analyzeTensor(checkpoint, tree, name, options);
        checkpoint.release(name);
        nlohmann::ordered_json j = analysisJson(a, jsonOptions);
        if (other) {
            const std::string otherName = comparedTensorName(*other, name);
            if (other->find(otherName)) {
                j["compare"] = comparisonJson(compareTensors(checkpoint, name, *other, otherName, bins), jsonOptions);
                other->release(otherName);
            } else {
                j["compare"] = { { "missing", true } };
            }
        }
        if (args.has("--json")) {
            out["tensors"].push_back(std::move(j));
            continue;
        }
        printRow(a, width, scheme.has_value());
        if (j.contains("compare") && j["compare"].contains("difference")) {
            const auto& d = j["compare"]["difference"];
            std::printf("%-*s  vs %s: SQNR %s dB, MSE %s, max |error| %s\n", static_cast<int>(width), "",
                args.value("--compare").c_str(), d["sqnr_db"].dump().c_str(), d["mse"].dump().c_str(),
                d["max_abs_error"].dump().c_str());
        }
    }
    if (args.has("--json"))
        std::cout << out.dump(2) << "\n";
    return 0;
}

} // namespace

extern const Command statsCommand { "stats", "statistics of tensors, with a scheme's error and code std", statsUsage,
    runStats };

} // namespace qs::cli
