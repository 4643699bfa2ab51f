// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"
#include "io/tensor_info.h"
#include "model/module_kind.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qs {

struct ModuleNode
{
    std::string name; // the last path segment; empty for the root
    std::string path; // the full dotted path, e.g. "model.layers.0.self_attn.q_proj"
    ModuleKind kind = ModuleKind::Container;
    int parent = -1;
    std::vector<int> children; // in natural order of their names
    std::vector<std::string> tensors; // full names of the tensors held directly
    // The shape of `<path>.weight`, when present, as a Linear's [out, in]: a Conv1D's stored
    // [in, out] is shown transposed.
    std::vector<std::int64_t> weightShape;
    DType weightDType = DType::F32;
    std::int64_t parameterCount = 0; // this module and everything below it
    int quantizableCount = 0; // Linear (and Conv1D) modules in this subtree (itself included)
};

// The module hierarchy implied by tensor names: "a.b.c.weight" is tensor `weight` of module
// "a.b.c", a child of "a.b". Siblings are in natural order ("layers.2" before "layers.10").
// Plain data: the GUI's tree model and the exporters share it.
class ModuleTree
{
public:
    // `modelType` is config.json's model_type; it decides e.g. that GPT-2's c_attn is a Conv1D.
    static ModuleTree build(const std::vector<TensorInfo>& tensors, std::string_view modelType = {});

    int root() const { return 0; }
    int size() const { return static_cast<int>(m_nodes.size()); }
    const ModuleNode& node(int index) const { return m_nodes.at(static_cast<std::size_t>(index)); }
    int find(std::string_view path) const; // -1 when absent

    // The modules a weight quantizer converts, in tree order: Linear ones, and GPT-2's Conv1D,
    // which are Linear modules whose weight is stored transposed ([in, out]).
    const std::vector<int>& quantizable() const { return m_quantizable; }
    bool isQuantizable(int index) const
    {
        const ModuleKind k = node(index).kind;
        return k == ModuleKind::Linear || k == ModuleKind::Conv1D;
    }
    // A quantizable module whose weight is stored [in, out] (Conv1D): quantized, measured per
    // output channel and shown after transposition.
    bool isTransposed(int index) const { return node(index).kind == ModuleKind::Conv1D; }

    // The module owning a tensor name ("a.b.weight" -> "a.b"), or -1.
    int moduleOfTensor(std::string_view tensorName) const;

    // Every node below `index` (excluding it), depth first in tree order.
    std::vector<int> descendants(int index) const;

private:
    int addPath(const std::string& path);

    std::vector<ModuleNode> m_nodes;
    std::unordered_map<std::string, int> m_byPath;
    std::unordered_map<std::string, int> m_tensorModule;
    std::vector<int> m_quantizable;
};

} // namespace qs
