// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The quantization error of every quantizable module's weight under one scheme: what the
// "keep the worst modules" preset ranks by.
#include "quant/quant_scheme.h"
#include "stats/layer_error.h"

#include <map>
#include <vector>

namespace qs {

class Checkpoint;
class ModuleTree;
class Progress;

// The layer table: every quantizable (Linear) module's weight quantized with `scheme`, with
// its error, kurtosis, outlier channels and per-channel code std, in tree order. Weights are
// mapped, measured and released one at a time (rows in parallel); progress counts modules and
// cancellation is honoured between rows. A weight that cannot be quantized is a FormatError
// naming it.
std::vector<LayerError> measureLayerErrors(
    const Checkpoint& checkpoint, const ModuleTree& tree, const QuantScheme& scheme, Progress& progress);

// SQNR in dB of each quantizable (Linear) module's weight quantized with `scheme`, by module
// index. Weights are mapped, quantized and released one at a time (the rows of each in
// parallel); progress counts modules, and cancellation is honoured between rows.
std::map<int, double> measureModuleSqnr(
    const Checkpoint& checkpoint, const ModuleTree& tree, const QuantScheme& scheme, Progress& progress);

} // namespace qs
