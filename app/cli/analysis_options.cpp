// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis_options.h"

#include "io/checkpoint.h"
#include "stats/tensor_comparison.h"

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
    const std::string counterpart = counterpartTensor(other, name);
    return counterpart.empty() ? name : counterpart;
}

} // namespace qs::cli
