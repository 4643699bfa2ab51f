#pragma once

#include "io/tensor_info.h"
#include "quant/error_metrics.h"
#include "quant/quant_scheme.h"
#include "stats/histogram.h"

#include <string>

namespace qs {

class Checkpoint;
class ModuleTree;

struct TensorSummary
{
    std::int64_t count = 0;
    double min = 0;
    double max = 0;
    double mean = 0;
    double std = 0;
    double kurtosis = 0; // excess kurtosis: 0 for a Gaussian
};

// What the GUI shows for one tensor: its distribution and, for a weight that the int8
// per-channel scheme converts, the distribution after quantize + dequantize and the error.
// Plain data, computed in a worker thread.
struct TensorAnalysis
{
    TensorInfo info;
    TensorSummary summary;
    Histogram original;
    bool quantized = false;
    Histogram dequantized; // same bins as `original`; empty when not quantized
    ErrorMetrics error;
    double scaleMin = 0;
    double scaleMax = 0;
    double clippedFraction = 0;
    std::int64_t recomputedRows = 0; // fms-mo narrow-weight recomputation
    std::string schemeName; // the scheme the quantized histogram and error come from
    // Non-empty when the checkpoint stores this weight quantized ("nxd", "compressed-tensors",
    // ...): `summary` and `original` then describe its dequantized values.
    std::string storedQuantization;
};

// Loads one tensor (a mapped view), converts it to float, and measures it. Non-floating
// tensors are summarised from their values as well. Throws qs::Error subclasses.
// Weights that would be quantized are measured with `scheme` (default: nxd-int8's math).
TensorAnalysis analyzeTensor(const Checkpoint& checkpoint, const ModuleTree& tree, const std::string& tensorName,
    int bins = 200, const QuantScheme& scheme = QuantScheme {});

} // namespace qs
