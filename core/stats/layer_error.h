#pragma once

// One row of the layer table: how a quantizable module's weight fares under a scheme.
// Plain data (no libtorch, no Qt), computed by measureLayerErrors (module_errors.h).
#include "quant/error_metrics.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

struct LayerError
{
    int node = -1; // index in the ModuleTree
    std::string module; // its path
    std::string tensor; // the weight measured
    std::vector<std::int64_t> shape;
    ErrorMetrics error; // dequantized against the float weight
    double kurtosis = 0; // excess kurtosis of the float weight
    std::int64_t channels = 0; // output channels
    std::int64_t outlierChannels = 0; // abs-max above kOutlierChannelFactor x the median
    double minCodeStd = 0; // the smallest per-channel std of the int codes (after recomputation)
    std::int64_t narrowChannels = 0; // channels whose code std is below kNarrowStdThreshold
    double clippedFraction = 0;
};

} // namespace qs
