#include "quant/error_metrics.h"

#include <cmath>
#include <limits>

namespace qs {

void ErrorAccumulator::merge(const ErrorAccumulator& other)
{
    count += other.count;
    signalEnergy += other.signalEnergy;
    errorEnergy += other.errorEnergy;
    if (other.maxAbsError > maxAbsError)
        maxAbsError = other.maxAbsError;
}

ErrorMetrics ErrorAccumulator::finish() const
{
    ErrorMetrics m;
    m.count = count;
    m.mse = count > 0 ? errorEnergy / static_cast<double>(count) : 0.0;
    m.maxAbsError = maxAbsError;
    if (errorEnergy == 0)
        m.sqnrDb = std::numeric_limits<double>::infinity();
    else if (signalEnergy == 0)
        m.sqnrDb = -std::numeric_limits<double>::infinity();
    else
        m.sqnrDb = 10.0 * std::log10(signalEnergy / errorEnergy);
    return m;
}

} // namespace qs
