// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/module_tree.h"

#include "model/natural_order.h"

#include <algorithm>
#include <cctype>

namespace qs {
namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool isEmbeddingName(const std::string& name)
{
    return name.find("embed") != std::string::npos || name == "wte" || name == "wpe" || name == "shared";
}

// "input_layernorm", "ln_f", "ln_1", and the nanoGPT fork's "pre_ln_attn" / "post_ln_mlp".
bool isNormName(const std::string& name)
{
    if (name.find("norm") != std::string::npos || name.rfind("ln", 0) == 0)
        return true;
    return name.find("_ln_") != std::string::npos || (name.size() > 3 && name.compare(name.size() - 3, 3, "_ln") == 0);
}

bool isGpt2Conv1D(std::string_view modelType, const std::string& name)
{
    return modelType == "gpt2" && (name == "c_attn" || name == "c_proj" || name == "c_fc");
}

std::string tensorParam(const std::string& tensor, const std::string& modulePath)
{
    return tensor.size() > modulePath.size() ? tensor.substr(modulePath.size() + 1) : tensor;
}

ModuleKind classify(
    const ModuleNode& n, const std::unordered_map<std::string, const TensorInfo*>& byName, std::string_view modelType)
{
    const std::string name = lower(n.name);
    // Stored quantized: low-precision codes next to a scale (compressed-tensors, NxD, AIU).
    const bool hasScale = byName.count(n.path + ".weight_scale") || byName.count(n.path + ".scale")
        || byName.count(n.path + ".quantize_weight.clip_val");
    if (hasScale && byName.count(n.path + ".weight_packed"))
        return ModuleKind::QuantizedLinear;
    // The nanoGPT fork's save_weights.py .pkl: QuantizedLinear codes without the float weight.
    if (!byName.count(n.path + ".weight") && byName.count(n.path + ".quantized_weight")
        && byName.count(n.path + ".weight_norm"))
        return ModuleKind::QuantizedLinear;
    const auto weight = byName.find(n.path + ".weight");
    if (weight != byName.end()) {
        const TensorInfo& w = *weight->second;
        if (w.shape.size() == 2) {
            if (isEmbeddingName(name))
                return ModuleKind::Embedding;
            if (hasScale && (!isFloatingPoint(w.dtype) || dtypeSize(w.dtype) == 1))
                return ModuleKind::QuantizedLinear;
            if (isGpt2Conv1D(modelType, name))
                return ModuleKind::Conv1D;
            return isFloatingPoint(w.dtype) ? ModuleKind::Linear : ModuleKind::Other;
        }
        if (w.shape.size() == 1 && isNormName(name))
            return ModuleKind::Norm;
        return ModuleKind::Other;
    }
    if (byName.count(n.path + ".gain") && isNormName(name))
        return ModuleKind::Norm;
    if (!n.children.empty() || n.parent < 0)
        return ModuleKind::Container;
    return ModuleKind::Other;
}

} // namespace

std::string_view moduleKindName(ModuleKind kind)
{
    switch (kind) {
    case ModuleKind::Container:
        return "container";
    case ModuleKind::Linear:
        return "linear";
    case ModuleKind::QuantizedLinear:
        return "linear (quantized)";
    case ModuleKind::Embedding:
        return "embedding";
    case ModuleKind::Norm:
        return "norm";
    case ModuleKind::Conv1D:
        return "conv1d";
    case ModuleKind::Other:
        return "other";
    }
    return "other";
}

int ModuleTree::addPath(const std::string& path)
{
    if (const auto it = m_byPath.find(path); it != m_byPath.end())
        return it->second;
    const auto dot = path.rfind('.');
    const int parent = dot == std::string::npos ? root() : addPath(path.substr(0, dot));
    ModuleNode n;
    n.name = dot == std::string::npos ? path : path.substr(dot + 1);
    n.path = path;
    n.parent = parent;
    const int index = size();
    m_nodes.push_back(std::move(n));
    m_nodes[static_cast<std::size_t>(parent)].children.push_back(index);
    m_byPath.emplace(path, index);
    return index;
}

ModuleTree ModuleTree::build(const std::vector<TensorInfo>& tensors, std::string_view modelType)
{
    ModuleTree tree;
    tree.m_nodes.emplace_back(); // the root
    tree.m_byPath.emplace("", 0);

    std::unordered_map<std::string, const TensorInfo*> byName;
    for (const auto& t : tensors) {
        byName.emplace(t.name, &t);
        const auto dot = t.name.rfind('.');
        const std::string modulePath = dot == std::string::npos ? t.name : t.name.substr(0, dot);
        const int module = tree.addPath(modulePath);
        tree.m_nodes[static_cast<std::size_t>(module)].tensors.push_back(t.name);
        tree.m_tensorModule.emplace(t.name, module);
    }

    for (auto& n : tree.m_nodes) {
        std::sort(n.children.begin(), n.children.end(),
            [&tree](int a, int b) { return naturalLess(tree.m_nodes[a].name, tree.m_nodes[b].name); });
        std::sort(n.tensors.begin(), n.tensors.end(), [&n](const std::string& a, const std::string& b) {
            return naturalLess(tensorParam(a, n.path), tensorParam(b, n.path));
        });
        auto w = byName.find(n.path + ".weight");
        if (w == byName.end())
            w = byName.find(n.path + ".quantized_weight"); // the fork's .pkl holds only the codes
        if (w != byName.end()) {
            n.weightShape = w->second->shape;
            n.weightDType = w->second->dtype;
        }
        for (const auto& t : n.tensors)
            n.parameterCount += byName.at(t)->numel();
    }
    for (auto& n : tree.m_nodes) {
        n.kind = classify(n, byName, modelType);
        if (n.kind == ModuleKind::Conv1D && n.weightShape.size() == 2)
            std::swap(n.weightShape[0], n.weightShape[1]);
    }

    // Children always have larger indices than their parents, so one backward pass sums up.
    for (int i = tree.size() - 1; i > 0; --i) {
        auto& n = tree.m_nodes[static_cast<std::size_t>(i)];
        if (n.kind == ModuleKind::Linear || n.kind == ModuleKind::Conv1D)
            ++n.quantizableCount;
        auto& p = tree.m_nodes[static_cast<std::size_t>(n.parent)];
        p.parameterCount += n.parameterCount;
        p.quantizableCount += n.quantizableCount;
    }
    for (int i : tree.descendants(tree.root())) {
        if (tree.isQuantizable(i))
            tree.m_quantizable.push_back(i);
    }
    return tree;
}

int ModuleTree::find(std::string_view path) const
{
    const auto it = m_byPath.find(std::string(path));
    return it == m_byPath.end() ? -1 : it->second;
}

int ModuleTree::moduleOfTensor(std::string_view tensorName) const
{
    const auto it = m_tensorModule.find(std::string(tensorName));
    return it == m_tensorModule.end() ? -1 : it->second;
}

std::vector<int> ModuleTree::descendants(int index) const
{
    std::vector<int> out;
    std::vector<int> stack(node(index).children.rbegin(), node(index).children.rend());
    while (!stack.empty()) {
        const int i = stack.back();
        stack.pop_back();
        out.push_back(i);
        const auto& c = m_nodes[static_cast<std::size_t>(i)].children;
        stack.insert(stack.end(), c.rbegin(), c.rend());
    }
    return out;
}

} // namespace qs
