// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/error_metrics.h"

#include <cmath>
#include <limits>

namespace qs {

void ErrorAccumulator::merge(const ErrorAccumulator& other)
{
    count += other.count;
    signalEnergy += other.signalEnergy;
    errorEnergy += other.errorEnergy;
    reconstructedEnergy += other.reconstructedEnergy;
    dot += other.dot;
    if (other.maxAbsError > maxAbsError)
        maxAbsError = other.maxAbsError;
}

ErrorMetrics ErrorAccumulator::finish() const
{
    ErrorMetrics m;
    m.count = count;
    m.mse = count > 0 ? errorEnergy / static_cast<double>(count) : 0.0;
    m.maxAbsError = maxAbsError;
    const double norms = std::sqrt(signalEnergy) * std::sqrt(reconstructedEnergy);
    m.cosine = norms > 0 ? dot / norms : (signalEnergy == reconstructedEnergy ? 1.0 : 0.0);
    if (errorEnergy == 0)
        m.sqnrDb = std::numeric_limits<double>::infinity();
    else if (signalEnergy == 0)
        m.sqnrDb = -std::numeric_limits<double>::infinity();
    else
        m.sqnrDb = 10.0 * std::log10(signalEnergy / errorEnergy);
    return m;
}

} // namespace qs
