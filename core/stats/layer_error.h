// SPDX-License-Identifier: GPL-3.0-or-later
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
    // The smallest per-channel std of the int8 codes (after recomputation); NaN for schemes
    // other than 8-bit int, where fms-mo's criterion does not apply.
    double minCodeStd = 0;
    std::int64_t narrowChannels = 0; // channels whose code std is below kNarrowStdThreshold (int8)
    double clippedFraction = 0;
};

} // namespace qs
