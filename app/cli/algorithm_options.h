// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The calibration algorithms' options that `convert` and `eval` share: --smoothquant ALPHA,
// --awq with --awq-duo-scaling/--awq-grid, --gptq with --gptq-block-size/--gptq-dampening/
// --gptq-actorder, --no-propagate-error.
#include "algo/algorithm_settings.h"
#include "arguments.h"
#include "select/recipe.h"

#include <optional>
#include <string>

namespace qs::cli {

void addAlgorithmOptions(OptionSpec& spec);
// --recipe FILE (an llm-compressor recipe), when given. UsageError when options it sets (the
// scheme, the algorithms) are given beside it, or for what readRecipe refuses.
std::optional<Recipe> recipeOption(const Arguments& args);
// The recipe's algorithms (with --no-propagate-error) or the options'. UsageError naming the
// option for a value out of range.
AlgorithmSettings algorithmSettings(const Arguments& args);
std::string algorithmOptionsUsage();

// A number in [0, 1) (`closed`: [0, 1]), or UsageError naming the option.
double fractionOption(const std::string& text, const std::string& option, bool closed = false);

} // namespace qs::cli
