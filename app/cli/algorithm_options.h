// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The calibration algorithms' options that `convert` and `eval` share: --smoothquant ALPHA,
// --awq with --awq-duo-scaling/--awq-grid, --gptq with --gptq-block-size/--gptq-dampening/
// --gptq-actorder, --no-propagate-error.
#include "algo/algorithm_settings.h"
#include "arguments.h"
#include "runtime/spinquant_report.h"
#include "select/recipe.h"

#include <nlohmann/json.hpp>

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
// "spinquant" in eval's and convert's JSON: {"steps", "lr", "samples", "batch", "tokens",
// "weights_quantized", "activations", "initial_loss", "final_loss", "kept_start", "losses", "step_sizes",
// "seconds", "seconds_per_step", "planned_bytes"}.
nlohmann::ordered_json spinQuantJson(const SpinQuantReport& report);

// A number in [0, 1) (`closed`: [0, 1]), or UsageError naming the option.
double fractionOption(const std::string& text, const std::string& option, bool closed = false);

} // namespace qs::cli
