// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli suggest MODEL --data FILE --scheme PRESET (--max-ppl-increase P | --max-kl X |
// --max-size SIZE | --target-bits B) [--candidates LIST] [--format F] [--write FORMAT -o FILE]
// [--json]`: measures every module's sensitivity and chooses the modules to keep in full precision
// (and with several candidates the scheme per module) for the budget, verified by an evaluation.
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "eval_options.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "keep_options.h"
#include "model/module_tree.h"
#include "runtime/memory.h"
#include "runtime/suggestion_run.h"
#include "terminal_progress.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

nlohmann::ordered_json number(double v)
{
    return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

double positiveNumber(const std::string& text, const std::string& option, bool percent)
{
    std::string t = text;
    if (percent && !t.empty() && t.back() == '%')
        t.pop_back();
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(t, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != t.size() || !(v >= 0) || !std::isfinite(v))
        throw UsageError(option + ": '" + text + "' is not a non-negative number" + (percent ? " (percent, 3 or 3%)" : ""));
    return v;
}

SuggestionBudget budgetOption(const Arguments& args)
{
    std::vector<SuggestionBudget> budgets;
    if (args.values.count("--max-ppl-increase"))
        budgets.push_back({ BudgetKind::PerplexityIncrease,
            positiveNumber(args.value("--max-ppl-increase"), "--max-ppl-increase", true) / 100.0 });
    if (args.values.count("--max-kl"))
        budgets.push_back({ BudgetKind::Kl, positiveNumber(args.value("--max-kl"), "--max-kl", false) });
    if (args.values.count("--max-size"))
        budgets.push_back(
            { BudgetKind::Size, static_cast<double>(parseByteSize(args.value("--max-size"), "--max-size")) });
    if (args.values.count("--target-bits"))
        budgets.push_back({ BudgetKind::Bits, positiveNumber(args.value("--target-bits"), "--target-bits", false) });
    if (budgets.size() != 1)
        throw UsageError("suggest needs exactly one budget: --max-ppl-increase P, --max-kl X, --max-size SIZE or "
                         "--target-bits B");
    return budgets.front();
}

ExportFormat formatOption(const Arguments& args, const QuantScheme& scheme)
{
    std::string name = args.value("--format");
    if (name.empty()) // the scheme's own consumer
        name = scheme.name.rfind("nxd", 0) == 0 ? "nxd" : scheme.name.rfind("aiu", 0) == 0 ? "aiu" : "compressed-tensors";
    if (name == "nxd")
        return ExportFormat::Nxd;
    if (name == "aiu")
        return ExportFormat::Aiu;
    if (name == "compressed-tensors")
        return ExportFormat::CompressedTensors;
    throw UsageError("--format: '" + name + "'; formats: nxd, compressed-tensors, aiu");
}

std::string suggestUsage()
{
    return "quantscope-cli suggest MODEL --data FILE --scheme PRESET [--candidates PRESET,PRESET,...]\n"
           "                    (--max-ppl-increase P | --max-kl X | --max-size SIZE | --target-bits B)\n"
           "                    [--format nxd|compressed-tensors|aiu] [--write FORMAT -o FILE]\n"
           "                    [--sensitivity block|exact] [eval's data options] [--json]\n"
           "  Measure how much quantizing each Linear module of the layers alone moves the model's loss on\n"
           "  the data (NLL increase and KL to the float model), choose the modules to keep in full\n"
           "  precision (with several candidates: the scheme of each module) for the budget, and verify the\n"
           "  choice with a full evaluation; when the verified loss misses the budget, the next most\n"
           "  sensitive module is kept and the choice verified again (at most --max-refinements N, 8).\n"
           "  The head (lm_head) is not measured and stays in full precision.\n"
           "  --max-ppl-increase P  perplexity may rise by at most P percent (3 or 3%): the fewest kept\n"
           "                     modules, the most sensitive first\n"
           "  --max-kl X         KL(float || quantized) per token at most X nats\n"
           "  --max-size SIZE    the exported checkpoint's tensors at most SIZE bytes (4.5G, 800M), counted as\n"
           "                     --format writes them; the lowest predicted KL that fits\n"
           "  --target-bits B    the Linear weights' average bits per weight (scales included) at most B\n"
           "  --candidates LIST  schemes to choose among per module besides --scheme (compressed-tensors only:\n"
           "                     several config groups), e.g. vllm-w8a16,vllm-w4a16\n"
           "  --format F         the consumer: its fused groups (vLLM keeps q/k/v and gate/up together; NxD\n"
           "                     keeps q/k/v only with their whole attention block), its names and its bytes;\n"
           "                     default: the scheme's (nxd-* nxd, aiu-* aiu, otherwise compressed-tensors)\n"
           "  --sensitivity M    block (default): each module's error at its layer's output, times the gain\n"
           "                     to the output measured at up to --probes N (8) layers; exact: every module's\n"
           "                     stream runs to the output (cost grows with modules x layers)\n"
           "  --write FORMAT -o FILE  write the keep list as "
        + std::string(keepListFormats())
        + "\n"
          "                     (convert --keep-file reads it)\n"
          "  eval's options apply: --seq-len, --max-windows, --protocol, --activations, --max-memory,\n"
          "  --spill-dir; the verification runs the algorithms given (--gptq, --smoothquant, --awq, ...)\n"
          "  --json             print {\"keep\", \"schemes\", \"budget\", \"predicted\": {\"perplexity\",\n"
          "                     \"perplexity_change\", \"kl_divergence\", \"bytes\", \"bits\"}, \"verified\":\n"
          "                     {\"perplexity\", \"perplexity_float\", \"perplexity_change\", \"kl_divergence\",\n"
          "                     \"bytes\", \"meets_budget\"}, \"curve\": [{\"kept\", \"bytes\", \"bits\",\n"
          "                     \"perplexity\", \"kl_divergence\"}], \"curve_selected\", \"sensitivity\": [{\"name\",\n"
          "                     \"scheme\", \"delta_loss\", \"kl\", \"block_error\", \"estimate\", \"measured\"}]\n"
          "                     (most sensitive first), \"probes\", \"notes\", \"refinements\", \"seconds\",\n"
          "                     \"peak_rss_bytes\"}\n";
}

int runSuggest(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json" };
    spec.values = { "--candidates", "--max-ppl-increase", "--max-kl", "--max-size", "--target-bits", "--format",
        "--write", "--output", "--sensitivity", "--probes", "--max-refinements" };
    spec.aliases = { { "-o", "--output" } };
    addEvaluationOptions(spec);
    const Arguments args = parseArguments("suggest", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'suggest' needs exactly one model: quantscope-cli suggest MODEL --data FILE --scheme PRESET "
                         "--max-ppl-increase P");
    if (args.value("--data").empty() || args.value("--scheme").empty())
        throw UsageError("suggest needs --data FILE and --scheme PRESET");
    if (args.values.count("--write") != args.values.count("--output"))
        throw UsageError("--write FORMAT and -o FILE go together");
    SuggestRequest request;
    request.budget = budgetOption(args);
    request.sensitivity.evaluation = evaluationRequest(args);
    const QuantScheme scheme = *request.sensitivity.evaluation.scheme;
    request.sensitivity.candidates = candidateSchemes(scheme, args.value("--candidates"));
    request.sensitivity.mode = args.value("--sensitivity", "block");
    request.sensitivity.probes = static_cast<int>(args.integer("--probes", 0, 0, 1 << 20));
    request.maxRefinements = static_cast<int>(args.integer("--max-refinements", 8, 0, 1 << 20));
    request.format = formatOption(args, scheme);
    if (args.values.count("--write") && request.sensitivity.candidates.size() > 1)
        throw UsageError("--write saves a keep list, which holds no per-module schemes: with --candidates, convert "
                         "with the \"schemes\" of the JSON as --quantize MODULE=PRESET rules");

    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    TerminalProgress progress;
    const SuggestReport report = runSuggestion(checkpoint, request, progress);
    progress.finish();

    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    if (args.values.count("--write")) {
        std::set<int> kept;
        for (const std::string& name : report.keep)
            kept.insert(tree.find(name));
        writeFileAtomically(args.value("--output"), keepListText(args.value("--write"), tree, kept, {}, scheme));
    }

    const Suggestion& p = report.chosen;
    const EvaluationReport& v = report.verified;
    nlohmann::ordered_json out;
    out["model"] = args.positional.front();
    out["scheme"] = scheme.name;
    out["budget"] = describeBudget(request.budget);
    out["keep"] = report.keep;
    out["schemes"] = report.schemes;
    out["predicted"] = { { "perplexity", number(p.perplexity) }, { "perplexity_change", number(p.perplexityIncrease) },
        { "kl_divergence", number(p.kl) }, { "bytes", p.bytes }, { "bits", number(p.bits) } };
    out["verified"] = { { "perplexity", number(v.perplexity) }, { "perplexity_float", number(v.floatPerplexity) },
        { "perplexity_change", number(v.perplexity / v.floatPerplexity - 1) }, { "kl_divergence", number(v.klDivergence) },
        { "bytes", report.verifiedBytes }, { "meets_budget", report.verifiedMeetsBudget } };
    nlohmann::ordered_json curve = nlohmann::ordered_json::array();
    for (const SuggestionPoint& c : report.curve)
        curve.push_back({ { "kept", c.kept }, { "bytes", c.bytes }, { "bits", number(c.bits) },
            { "perplexity", number(c.perplexity) }, { "kl_divergence", number(c.kl) } });
    out["curve"] = std::move(curve);
    out["curve_selected"] = report.curveIndex >= 0 ? nlohmann::ordered_json(report.curveIndex) : nlohmann::ordered_json();
    std::vector<const ModuleSensitivity*> ranked;
    for (const ModuleSensitivity& m : report.sensitivity.modules)
        ranked.push_back(&m);
    const bool byLoss = request.budget.kind == BudgetKind::PerplexityIncrease;
    std::stable_sort(ranked.begin(), ranked.end(), [&](const auto* a, const auto* b) {
        return byLoss ? a->deltaLoss > b->deltaLoss : a->kl > b->kl;
    });
    nlohmann::ordered_json sensitivity = nlohmann::ordered_json::array();
    for (const ModuleSensitivity* m : ranked)
        sensitivity.push_back({ { "name", m->name }, { "scheme", m->scheme }, { "delta_loss", number(m->deltaLoss) },
            { "kl", number(m->kl) }, { "block_error", number(m->blockError) }, { "estimate", number(m->estimate) },
            { "measured", m->measured } });
    out["sensitivity"] = std::move(sensitivity);
    out["sensitivity_mode"] = report.sensitivity.mode;
    nlohmann::ordered_json probes = nlohmann::ordered_json::array();
    for (const SensitivityProbe& pr : report.sensitivity.probes)
        probes.push_back({ { "block", pr.block }, { "scheme", pr.scheme }, { "delta_loss", number(pr.deltaLoss) },
            { "kl", number(pr.kl) }, { "block_error", number(pr.blockError) } });
    out["probes"] = std::move(probes);
    out["notes"] = report.notes;
    out["refinements"] = report.refinements;
    out["seconds"] = report.sensitivity.seconds + v.seconds;
    out["sensitivity_seconds"] = report.sensitivity.seconds;
    out["verification_seconds"] = v.seconds;
    out["peak_rss_bytes"] = peakRssBytes();
    if (args.has("--json")) {
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::printf("budget: %s (%s sensitivity, %lld tokens)\n", out["budget"].get<std::string>().c_str(),
        report.sensitivity.mode.c_str(), static_cast<long long>(report.sensitivity.tokens));
    std::printf("most sensitive modules:\n");
    for (std::size_t i = 0; i < ranked.size() && i < 10; ++i)
        std::printf("  %-48s %-16s dNLL %+.3e  KL %.3e\n", ranked[i]->name.c_str(), ranked[i]->scheme.c_str(),
            ranked[i]->deltaLoss, ranked[i]->kl);
    std::printf("keep %zu module(s) in full precision:\n", report.keep.size());
    for (const std::string& k : report.keep)
        std::printf("  %s\n", k.c_str());
    std::printf("predicted: perplexity %.4f (%+.3f%%), KL %.4g, %s, %.2f bits per weight\n", p.perplexity,
        100 * p.perplexityIncrease, p.kl, formatBytes(p.bytes).c_str(), p.bits);
    std::printf("verified:  perplexity %.4f (float %.4f, %+.3f%%), KL %.4g: %s the budget\n", v.perplexity,
        v.floatPerplexity, 100 * (v.perplexity / v.floatPerplexity - 1), v.klDivergence,
        report.verifiedMeetsBudget ? "meets" : "misses");
    for (const std::string& n : report.notes)
        std::printf("note: %s\n", n.c_str());
    return 0;
}

} // namespace

extern const Command suggestCommand { "suggest",
    "measure module sensitivity and choose the modules to keep for a perplexity, KL or size budget", suggestUsage,
    runSuggest };

} // namespace qs::cli
