#pragma once

// The quantization error of every quantizable module's weight under one scheme: what the
// "keep the worst modules" preset ranks by.
#include "quant/quant_scheme.h"

#include <map>

namespace qs {

class Checkpoint;
class ModuleTree;
class Progress;

// SQNR in dB of each quantizable (Linear) module's weight quantized with `scheme`, by module
// index. Weights are mapped, quantized and released one at a time (the rows of each in
// parallel); progress counts modules, and cancellation is honoured between rows.
std::map<int, double> measureModuleSqnr(
    const Checkpoint& checkpoint, const ModuleTree& tree, const QuantScheme& scheme, Progress& progress);

} // namespace qs
