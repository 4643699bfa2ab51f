// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The options of an evaluation shared by `eval`, `compare-recipes` and `suggest`: the data and
// its windows, the scheme and activations, calibration, the algorithms, memory.
#include "arguments.h"
#include "runtime/evaluation.h"

namespace qs::cli {

// Adds --data, --seq-len, --protocol, --scheme, --max-windows, --activations, the calibration,
// masking and memory options and the algorithm options to a command's spec.
void addEvaluationOptions(OptionSpec& spec);

// The evaluation the options ask for, checked before the model loads (but the keep rules).
EvaluationRequest evaluationRequest(const Arguments& args);

} // namespace qs::cli
