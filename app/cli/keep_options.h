// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The keep-full-precision options shared by `convert` and `select`: --keep (NxD partial
// names), --keep-regex (compressed-tensors regexes), --keep-file (any keep-list format),
// --preset (lm-head, embeddings, attention, edge-mlps:N), --keep-worst K / --keep-below DB.
#include "arguments.h"
#include "select/selection_rule.h"

#include <string>
#include <vector>

namespace qs {
class Checkpoint;
class ModuleTree;
struct QuantScheme;
} // namespace qs

namespace qs::cli {

// Adds the options above to a command's spec.
void addKeepOptions(OptionSpec& spec);

// The rules they describe, in a stable order: files, presets, worst modules, --keep, --keep-regex.
// --keep-worst/--keep-below measure every module with `scheme` first (progress on stderr).
std::vector<SelectionRule> keepRulesFromArguments(
    const Arguments& args, const Checkpoint& checkpoint, const ModuleTree& tree, const QuantScheme& scheme);

// The usage lines of these options.
std::string keepOptionsUsage();

} // namespace qs::cli
