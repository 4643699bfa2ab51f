// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The calibration algorithms' options that `convert` and `eval` share: --smoothquant ALPHA,
// --gptq with --gptq-block-size/--gptq-dampening/--gptq-actorder, --no-propagate-error.
#include "algo/algorithm_settings.h"
#include "arguments.h"

#include <string>

namespace qs::cli {

void addAlgorithmOptions(OptionSpec& spec);
// UsageError naming the option for a value out of range.
AlgorithmSettings algorithmSettings(const Arguments& args);
std::string algorithmOptionsUsage();

// A number in [0, 1) (`closed`: [0, 1]), or UsageError naming the option.
double fractionOption(const std::string& text, const std::string& option, bool closed = false);

} // namespace qs::cli
