// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The keep-full-precision options shared by `convert` and `select`: --keep (NxD partial
// names), --keep-regex (compressed-tensors regexes), --keep-file (any keep-list format),
// --preset (lm-head, embeddings, attention, edge-mlps:N), --keep-worst K / --keep-below DB.
#include "arguments.h"
#include "select/selection_rule.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace qs {
class Checkpoint;
class ModuleTree;
struct QuantScheme;
struct SelectionResult;
} // namespace qs

namespace qs::cli {

// Adds the options above to a command's spec.
void addKeepOptions(OptionSpec& spec);

// The rules they describe, in a stable order: files, presets, worst modules, --keep, --keep-regex.
// --keep-worst/--keep-below measure every module with `scheme` first (progress on stderr).
std::vector<SelectionRule> keepRulesFromArguments(
    const Arguments& args, const Checkpoint& checkpoint, const ModuleTree& tree, const QuantScheme& scheme);

// What a resolved selection means for a conversion or an evaluation: the paths of the kept
// modules, and the preset of every quantized module that a --quantize rule gives its own.
void addSelectedModules(const ModuleTree& tree, const SelectionResult& selection, std::set<std::string>& kept,
    std::map<std::string, QuantScheme>& moduleSchemes);

// A kept set written in one of the keep-list formats (see keepListFormats()): NxD partial names
// (the rules' own when they resolve to it, else the compact form), otherwise full names.
// A recipe quantizes with `scheme` (its weights and activations as compressed-tensors writes them).
std::string keepListText(const std::string& format, const ModuleTree& tree, const std::set<int>& kept,
    const std::vector<SelectionRule>& rules, const QuantScheme& scheme);
const char* keepListFormats(); // "nxd-json, nxd-json-model, ..., fms-mo or text"

// The usage lines of these options.
std::string keepOptionsUsage();

} // namespace qs::cli
