// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis_options.h"

#include "io/checkpoint.h"

namespace qs::cli {

AnalysisOptions analysisOptions(const std::optional<QuantScheme>& scheme, int bins, bool quantizeAny)
{
    AnalysisOptions options;
    options.bins = bins;
    options.quantize = scheme.has_value();
    options.quantizeAny = quantizeAny;
    if (scheme)
        options.scheme = *scheme;
    return options;
}

std::string comparedTensorName(const Checkpoint& other, const std::string& name)
{
    return other.find(name) || !other.find(name + "_packed") ? name : name + "_packed";
}

} // namespace qs::cli
