// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "algo/algorithm_settings.h"

// Keep lists in the formats of the source systems, read into rules and written from a
// resolved selection in the style each target expects.
#include "select/selection_rule.h"

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace qs {

class ModuleTree;

enum class KeepListFormat
{
    NxdJson, // modules_to_not_convert.json: {"modules_to_not_convert": [...]}, {"model": {...}}, + "draft_model"
    CompressedTensorsConfig, // a model's config.json: quantization_config.ignore
    Recipe, // llm-compressor recipe YAML: QuantizationModifier (or GPTQModifier) ignore
    FmsMoQcfg, // fms-mo qcfg.json: qskip_layer_name
    Text, // one name per line; '#' starts a comment
};

std::string_view keepListFormatName(KeepListFormat format); // "nxd-json", "ct-config", "recipe", "fms-mo", "text"

struct KeepList
{
    KeepListFormat format = KeepListFormat::Text;
    std::vector<SelectionRule> rules; // keep rules in the format's own matching syntax
    std::vector<SelectionRule> draftRules; // NxD "draft_model" list, when present
    std::vector<std::string> notes; // e.g. the recipe's config_groups targets
};

// Reads a keep list, recognising the format by content (JSON keys, YAML modifiers) and
// falling back to a plain list. Throws FormatError naming the file and what is wrong.
KeepList readKeepList(const std::filesystem::path& path);
KeepList parseKeepList(const std::string& text, const std::string& sourceName);

// How a modules_to_not_convert.json is laid out.
enum class NxdJsonShape
{
    Flat, // {"modules_to_not_convert": [...]}
    UnderModel, // {"model": {"modules_to_not_convert": [...]}}
    WithDraft, // {"model": {...}, "draft_model": {"modules_to_not_convert": [...]}}
};

std::string writeNxdKeepJson(
    const std::vector<std::string>& names, NxdJsonShape shape, const std::vector<std::string>& draftNames = {});
// The full names of the kept Linear modules, for compressed-tensors `ignore` and fms-mo
// `qskip_layer_name`, in tree order.
std::vector<std::string> fullKeepNames(const ModuleTree& tree, const std::set<int>& kept);
// NxD partial names: the patterns as the user wrote them when every keep rule is an NxD
// partial name that Neuron's module names can contain (none starts with "model.") and they
// resolve to exactly `kept`; otherwise the compact form (compactNxdKeepList).
std::vector<std::string> nxdKeepNames(
    const ModuleTree& tree, const std::set<int>& kept, const std::vector<SelectionRule>& rules);
std::string writeFmsMoQcfg(const std::vector<std::string>& names); // {"qskip_layer_name": [...]}
std::string writeTextList(const std::vector<std::string>& names);
// An llm-compressor recipe with a QuantizationModifier whose `ignore` is `names` and whose
// single config group targets Linear with `weights` / `activations` as YAML flow mappings
// (e.g. "{num_bits: 8, type: int, symmetric: true, strategy: channel}"; empty: omitted).
// With `algorithms`, the modifiers that were applied: SmoothQuantModifier (smoothing_strength,
// mappings, ignore) or AWQModifier (mappings, ignore, duo_scaling, n_grid) first, and GPTQModifier
// (block_size, dampening_frac, actorder) in place of QuantizationModifier.
std::string writeRecipeYaml(const std::vector<std::string>& names, const std::string& weights,
    const std::string& activations, const AlgorithmSettings& algorithms = {});
// Several config groups (mixed precision): each with its targets (exact module names, or "Linear").
struct RecipeGroup
{
    std::vector<std::string> targets;
    std::string weights, activations; // YAML flow mappings as above
};
std::string writeRecipeYaml(
    const std::vector<std::string>& names, const std::vector<RecipeGroup>& groups, const AlgorithmSettings& algorithms);

} // namespace qs
