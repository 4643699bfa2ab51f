// SPDX-License-Identifier: GPL-3.0-or-later
#include "jobs/conversion_plan.h"

#include "error.h"
#include "io/checkpoint.h"
#include "model/module_tree.h"

namespace qs {

bool isQuantizableWeight(const ModuleTree& tree, const TensorInfo& tensor)
{
    const int module = tree.moduleOfTensor(tensor.name);
    if (module < 0 || !tree.isQuantizable(module))
        return false;
    if (tensor.name != tree.node(module).path + ".weight" || tensor.shape.size() != 2)
        return false;
    switch (tensor.dtype) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::F64:
        return true;
    default:
        return false;
    }
}

std::set<int> resolveKeptModules(const ModuleTree& tree, const std::set<std::string>& keptPaths)
{
    std::set<int> kept;
    for (const auto& path : keptPaths) {
        const int index = tree.find(path);
        if (index < 0)
            throw UsageError("no module named '" + path + "' in this checkpoint");
        if (tree.isQuantizable(index))
            kept.insert(index);
        for (int d : tree.descendants(index)) {
            if (tree.isQuantizable(d))
                kept.insert(d);
        }
    }
    return kept;
}

int ConversionPlan::quantizedCount() const
{
    int n = 0;
    for (const auto& t : tensors)
        n += t.quantize ? 1 : 0;
    return n;
}

ConversionPlan planConversion(
    const Checkpoint& checkpoint, const ModuleTree& tree, const std::set<std::string>& keptPaths)
{
    ConversionPlan plan;
    plan.keptModules = resolveKeptModules(tree, keptPaths);
    for (const auto& t : checkpoint.tensors()) {
        PlannedTensor p;
        p.input = t;
        p.module = tree.moduleOfTensor(t.name);
        p.quantize = isQuantizableWeight(tree, t) && !plan.keptModules.count(p.module);
        p.transposed = p.quantize && tree.isTransposed(p.module);
        plan.inputBytes += t.bytes;
        plan.tensors.push_back(std::move(p));
    }
    return plan;
}

} // namespace qs
