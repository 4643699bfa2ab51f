// SPDX-License-Identifier: GPL-3.0-or-later
#include "keep_options.h"

#include "error.h"
#include "export/compressed_tensors_exporter.h"
#include "model/module_tree.h"
#include "quant/quant_scheme.h"
#include "select/keep_list_io.h"
#include "select/recipe.h"
#include "select/selection.h"
#include "select/selection_presets.h"
#include "stats/module_errors.h"
#include "terminal_progress.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace qs::cli {

void addKeepOptions(OptionSpec& spec)
{
    for (const char* o :
        { "--keep", "--keep-regex", "--keep-file", "--preset", "--keep-worst", "--keep-below", "--quantize" })
        spec.values.insert(o);
}

std::vector<SelectionRule> keepRulesFromArguments(
    const Arguments& args, const Checkpoint& checkpoint, const ModuleTree& tree, const QuantScheme& scheme)
{
    std::vector<SelectionRule> rules;
    for (const auto& file : args.all("--keep-file")) {
        for (auto& r : readKeepList(file).rules)
            rules.push_back(std::move(r));
    }
    for (const auto& preset : args.all("--preset")) {
        for (auto& r : selectionPreset(tree, preset))
            rules.push_back(std::move(r));
    }
    const bool worst = args.values.count("--keep-worst") > 0;
    const bool below = args.values.count("--keep-below") > 0;
    if (worst && below)
        throw UsageError("--keep-worst and --keep-below exclude each other");
    if (worst || below) {
        int count = 0;
        double threshold = NAN;
        try {
            std::size_t used = 0;
            if (worst) {
                count = std::stoi(args.value("--keep-worst"), &used);
                if (used != args.value("--keep-worst").size() || count < 1)
                    throw std::invalid_argument("count");
            } else {
                threshold = std::stod(args.value("--keep-below"), &used);
                if (used != args.value("--keep-below").size())
                    throw std::invalid_argument("threshold");
            }
        } catch (const std::exception&) {
            throw UsageError(worst ? "--keep-worst: '" + args.value("--keep-worst") + "' is not a positive count"
                                   : "--keep-below: '" + args.value("--keep-below") + "' is not a number of dB");
        }
        TerminalProgress progress;
        const auto sqnr = measureModuleSqnr(checkpoint, tree, scheme, progress);
        progress.finish();
        for (auto& r : keepWorstPreset(tree, sqnr, threshold, count))
            rules.push_back(std::move(r));
    }
    for (const auto& file : args.all("--recipe")) { // the quantizing modifier's ignore
        for (auto& r : readRecipe(file).keep)
            rules.push_back(std::move(r));
    }
    for (const auto& p : args.all("--keep"))
        rules.push_back({ RuleSyntax::NxdPartial, p, RuleAction::Keep, {}, "--keep" });
    for (const auto& p : args.all("--keep-regex")) {
        const std::string pattern = p.rfind("re:", 0) == 0 ? p : "re:" + p;
        rules.push_back({ RuleSyntax::CompressedTensors, pattern, RuleAction::Keep, {}, "--keep-regex" });
    }
    // Exceptions last, so that they win: PATTERN (NxD substring) or PATTERN=PRESET.
    for (const auto& q : args.all("--quantize")) {
        const auto eq = q.rfind('=');
        SelectionRule r { RuleSyntax::NxdPartial, q.substr(0, eq), RuleAction::Quantize, {}, "--quantize" };
        if (eq != std::string::npos) {
            r.scheme = q.substr(eq + 1);
            if (!findSchemePreset(r.scheme))
                throw UsageError("--quantize " + q + ": no scheme preset named '" + r.scheme + "'");
        }
        if (r.pattern.empty())
            throw UsageError("--quantize needs a pattern: --quantize PATTERN or --quantize PATTERN=PRESET");
        rules.push_back(std::move(r));
    }
    return rules;
}

void addSelectedModules(const ModuleTree& tree, const SelectionResult& selection, std::set<std::string>& kept,
    std::map<std::string, QuantScheme>& moduleSchemes)
{
    for (int m : selection.kept())
        kept.insert(tree.node(m).path);
    for (auto& [path, scheme] : moduleSchemesOf(tree, selection))
        moduleSchemes[path] = std::move(scheme);
}

std::string keepOptionsUsage()
{
    return "  --keep PATTERN       keep matching modules in full precision; NxD matching: PATTERN is a\n"
           "                       substring of the full module name (layers.1 also matches layers.10)\n"
           "  --keep-regex RE      keep modules whose full name matches RE from its start (Python\n"
           "                       re.match, as compressed-tensors' \"re:\" entries)\n"
           "  --keep-file FILE     keep the modules a list names: modules_to_not_convert.json (any of\n"
           "                       NxD's three shapes), a config.json's quantization_config.ignore,\n"
           "                       an llm-compressor recipe YAML, an fms-mo qcfg.json, or plain text\n"
           "  --preset NAME        lm-head, embeddings, attention, edge-mlps:N (the MLPs of the first\n"
           "                       and last N decoder layers)\n"
           "  --keep-worst K       measure every module with the scheme and keep the K worst (SQNR)\n"
           "  --keep-below DB      ... or those with an SQNR below DB\n"
           "  --quantize P[=PRESET]  quantize modules whose name contains P even if a keep rule above\n"
           "                       matches them, optionally with another scheme preset\n";
}

} // namespace qs::cli

namespace qs::cli {

const char* keepListFormats()
{
    return "nxd-json, nxd-json-model, nxd-json-draft, ct-ignore, recipe, fms-mo or text";
}

std::string keepListText(const std::string& format, const ModuleTree& tree, const std::set<int>& kept,
    const std::vector<SelectionRule>& rules, const QuantScheme& scheme)
{
    if (format == "nxd-json" || format == "nxd-json-model" || format == "nxd-json-draft") {
        const auto names = nxdKeepNames(tree, kept, rules);
        const NxdJsonShape shape = format == "nxd-json" ? NxdJsonShape::Flat
            : format == "nxd-json-model"                ? NxdJsonShape::UnderModel
                                                        : NxdJsonShape::WithDraft;
        return writeNxdKeepJson(names, shape, names);
    }
    const auto full = fullKeepNames(tree, kept);
    if (format == "ct-ignore") {
        nlohmann::ordered_json j;
        j["quantization_config"]["ignore"] = full;
        return j.dump(4) + "\n";
    }
    if (format == "recipe") {
        const auto [weights, activations] = recipeSchemeArgs(scheme);
        return writeRecipeYaml(full, weights, activations);
    }
    if (format == "fms-mo")
        return writeFmsMoQcfg(full);
    if (format == "text")
        return writeTextList(full);
    throw UsageError("--write: unknown format '" + format + "'; formats: " + keepListFormats());
}

} // namespace qs::cli
