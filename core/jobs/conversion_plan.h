// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/tensor_info.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace qs {

class Checkpoint;
class ModuleTree;

// True for the `weight` of a Linear (or Conv1D) module stored as F32, F16, BF16 or F64: what a
// weight quantizer converts unless the module is kept in full precision.
bool isQuantizableWeight(const ModuleTree& tree, const TensorInfo& tensor);

struct PlannedTensor
{
    TensorInfo input;
    int module = -1; // owning module in the tree
    bool quantize = false;
    // The weight is stored [in, out] (GPT-2's Conv1D): it is quantized as its transpose, the
    // [out, in] Linear weight, per output channel.
    bool transposed = false;

    // The weight's shape as a Linear's [out, in].
    std::vector<std::int64_t> linearShape() const
    {
        return transposed && input.shape.size() == 2 ? std::vector<std::int64_t> { input.shape[1], input.shape[0] }
                                                     : input.shape;
    }
};

// What a conversion will do with every tensor, decided before anything is written so that
// the exporter can lay out its files (headers first) and progress can count bytes.
struct ConversionPlan
{
    std::vector<PlannedTensor> tensors; // in checkpoint order
    std::set<int> keptModules; // quantizable modules kept in full precision
    std::uint64_t inputBytes = 0;

    int quantizedCount() const;
};

// Expands `keptPaths` (module paths; a container keeps every Linear below it) and plans the
// conversion. Throws UsageError for a path that names no module.
ConversionPlan planConversion(
    const Checkpoint& checkpoint, const ModuleTree& tree, const std::set<std::string>& keptPaths);

// The quantizable modules that `keptPaths` keeps (same expansion as planConversion).
std::set<int> resolveKeptModules(const ModuleTree& tree, const std::set<std::string>& keptPaths);

} // namespace qs
