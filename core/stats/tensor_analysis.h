// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/tensor_info.h"
#include "jobs/progress.h"
#include "quant/error_metrics.h"
#include "quant/quant_scheme.h"
#include "stats/histogram.h"
#include "stats/tensor_statistics.h"

#include <string>

namespace qs {

class Checkpoint;
class ModuleTree;

// What the analysis views show for one tensor: its distribution, per-channel ranges and, for
// a weight that the scheme converts, the dequantized distribution, the codes and the error.
// Plain data, computed in a worker thread.
struct TensorAnalysis
{
    TensorInfo info;
    TensorStatistics summary;
    Histogram original;
    ChannelStatistics channels; // rows of the [rows, cols] view (dimension 0 first)
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    // A Conv1D weight (stored [in, out]) measured as its transpose: rows are output channels.
    bool transposed = false;
    bool quantized = false;
    Histogram dequantized; // same bins as `original`; empty when not quantized
    CodeHistogram codes;
    std::vector<double> clipLines; // where the codes saturate (clipLinesOf)
    ErrorMetrics error;
    double scaleMin = 0;
    double scaleMax = 0;
    double clippedFraction = 0;
    std::int64_t recomputedRows = 0; // fms-mo narrow-weight recomputation
    std::string schemeName; // the scheme the quantized views come from
    // Non-empty when the checkpoint stores this weight quantized ("nxd", "compressed-tensors",
    // ...): `summary` and `original` then describe its dequantized values.
    std::string storedQuantization;
    // The nanoGPT fork keeps codes of this float weight (QuantizedLinear's quantized_weight):
    // that tensor, its dequantized values on the bins of `original` and their error against
    // the float weight. Empty `storedCodes` when there are none.
    std::string storedCodes;
    Histogram storedDequantized;
    ErrorMetrics storedError;
    // The fork's quantizer of those codes (or of this tensor, when it is fork codes itself),
    // and how it was inferred (ForkSchemeGuess).
    std::string storedScheme;
    std::string storedSchemeBasis;
    // Why a quantizable weight was not quantized (NaN or infinity in it), empty otherwise.
    std::string note;
};

struct AnalysisOptions
{
    int bins = 200;
    QuantScheme scheme; // default: nxd-int8's math
    // Quantize weights that the scheme converts (Linear weights); off: distribution only.
    bool quantize = true;
    // Quantize whatever floating tensor is asked for, Linear weight or not (the CLI's stats).
    bool quantizeAny = false;
    CancelToken cancel;
};

// Loads one tensor (a mapped view, dequantized when stored quantized) and measures it.
// Throws qs::Error subclasses naming the tensor; CancelledError when `cancel` is set.
TensorAnalysis analyzeTensor(const Checkpoint& checkpoint, const ModuleTree& tree, const std::string& tensorName,
    const AnalysisOptions& options);

inline TensorAnalysis analyzeTensor(const Checkpoint& checkpoint, const ModuleTree& tree, const std::string& tensorName,
    int bins = 200, const QuantScheme& scheme = QuantScheme {})
{
    AnalysisOptions options;
    options.bins = bins;
    options.scheme = scheme;
    return analyzeTensor(checkpoint, tree, tensorName, options);
}

} // namespace qs
