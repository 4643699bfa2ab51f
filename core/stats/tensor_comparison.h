// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The same tensor in two checkpoints (for example an original and its export), measured on
// common bins. Plain data for the compare view and `quantscope-cli stats --compare`.
#include "jobs/progress.h"
#include "quant/error_metrics.h"
#include "stats/histogram.h"
#include "stats/tensor_statistics.h"

#include <string>
#include <vector>

namespace qs {

struct TensorComparison
{
    std::string name;
    std::vector<std::int64_t> shapeA;
    std::vector<std::int64_t> shapeB;
    std::string dtypeA;
    std::string dtypeB;
    std::string storedA; // non-empty when stored quantized: the values are the dequantized ones
    std::string storedB;
    TensorStatistics a;
    TensorStatistics b;
    Histogram histogramA; // both over the union of the two ranges
    Histogram histogramB;
    bool sameShape = false;
    ErrorMetrics difference; // B against A (when the shapes agree)
};

class Checkpoint;

// The tensor of `other` that stands for `name` of the first checkpoint: the same name, the
// compressed-tensors packed form ("<m>.weight_packed"), or the nanoGPT fork's stored codes
// ("<m>.quantized_weight" of a save_weights .pkl, which has no float weight); empty when none.
std::string counterpartTensor(const Checkpoint& other, const std::string& name);

// Loads `nameA` from `a` and `nameB` from `b` (each dequantized when stored quantized) and
// measures both on common bins; the difference when their shapes agree. `cancel` is polled
// between blocks (CancelledError).
TensorComparison compareTensors(const Checkpoint& a, const std::string& nameA, const Checkpoint& b,
    const std::string& nameB, int bins = 200, CancelToken cancel = {});

} // namespace qs
