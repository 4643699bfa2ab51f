// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What `stats` and `plot` share: how a tensor is analysed, and which tensor of another
// checkpoint (--compare) it is compared with.
#include "quant/quant_scheme.h"
#include "stats/tensor_analysis.h"

#include <optional>
#include <string>

namespace qs {
class Checkpoint;
} // namespace qs

namespace qs::cli {

// Histograms of `bins` bins; quantized with `scheme` when there is one (with `quantizeAny`,
// any floating tensor, not only the Linear weights), otherwise the distribution only.
AnalysisOptions analysisOptions(const std::optional<QuantScheme>& scheme, int bins, bool quantizeAny);

// counterpartTensor(other, name) (the same name, its "_packed" twin, or the nanoGPT fork's
// stored codes), or `name` itself when other has none of them.
std::string comparedTensorName(const Checkpoint& other, const std::string& name);

} // namespace qs::cli
