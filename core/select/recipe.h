// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// An llm-compressor recipe (YAML: stages of modifiers, however deeply nested) read as a
// QuantScope plan: SmoothQuantModifier (smoothing_strength, mappings, ignore), GPTQModifier
// (targets, scheme or config_groups, ignore, block_size, dampening_frac, actorder) and
// QuantizationModifier (targets, scheme or config_groups, ignore). Plain data.
#include "algo/algorithm_settings.h"
#include "quant/quant_scheme.h"
#include "select/selection_rule.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace qs {

struct Recipe
{
    std::optional<QuantScheme> scheme; // from the quantizing modifier's scheme or config_groups
    AlgorithmSettings algorithms;
    std::vector<SelectionRule> keep; // the quantizing modifier's ignore (compressed-tensors targets)
    std::vector<std::string> modifiers; // in the recipe's order
};

// UsageError naming the file and what it cannot run: a modifier QuantScope does not implement
// (named), an argument of one it does not know, targets other than Linear, a scheme name without
// a QuantScope preset, more than one quantizing modifier.
Recipe readRecipe(const std::filesystem::path& file);
Recipe parseRecipe(const std::string& text, const std::string& source);

} // namespace qs
