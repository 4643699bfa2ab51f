// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/weight_loader.h"

#include "error.h"
#include "io/checkpoint.h"
#include "quant/prefaulted_tensor.h"

#include <ATen/ATen.h>

namespace qs {
namespace {

std::string shapeText(const std::vector<std::int64_t>& shape)
{
    std::string s;
    for (auto d : shape)
        s += (s.empty() ? "" : "x") + std::to_string(d);
    return s.empty() ? "a scalar" : s;
}

} // namespace

WeightLoader::WeightLoader(const Checkpoint& checkpoint, const ModelConfig& config, WeightTransform transform)
    : m_checkpoint(checkpoint)
    , m_config(config)
    , m_transform(std::move(transform))
{
}

bool WeightLoader::has(const std::string& name) const
{
    return m_checkpoint.find(name) != nullptr;
}

at::Tensor WeightLoader::tensor(const std::string& name, const std::vector<std::int64_t>& shape) const
{
    const TensorInfo* info = m_checkpoint.find(name);
    if (!info)
        throw FormatError("the model has no tensor '" + name + "', which a " + m_config.modelType + " model needs",
            ErrorContext { m_checkpoint.path().string(), name, {} });
    const bool stored = m_checkpoint.quantization().recipes.count(name) > 0;
    const bool fp8 = info->dtype == DType::F8_E4M3 || info->dtype == DType::F8_E5M2;
    auto misfit = [&] {
        return FormatError("shape does not fit the config (expected " + shapeText(shape) + ")",
            ErrorContext { info->source, name, {} });
    };
    m_read.push_back(name);
    if (stored || fp8) { // the stored shape may be packed: check what it decodes to
        at::Tensor t = m_checkpoint.loadDequantized(name).to(at::kFloat).contiguous();
        if (t.sizes() != at::IntArrayRef(shape))
            throw misfit();
        return t;
    }
    if (info->shape != shape)
        throw misfit();
    // One copy, into memory mapped in one call (no page fault per page), converted on the way.
    const at::Tensor view = m_checkpoint.load(name);
    at::Tensor t = emptyPrefaulted(view.sizes(), at::kFloat);
    t.copy_(view);
    return t;
}

at::Tensor WeightLoader::optional(const std::string& name, const std::vector<std::int64_t>& shape) const
{
    return has(name) ? tensor(name, shape) : at::Tensor();
}

at::Tensor WeightLoader::linear(const std::string& module, std::int64_t out, std::int64_t in) const
{
    return transformed(module, tensor(module + ".weight", { out, in }));
}

at::Tensor WeightLoader::conv1d(const std::string& module, std::int64_t in, std::int64_t out) const
{
    return transformed(module, tensor(module + ".weight", { in, out }).t().contiguous());
}

at::Tensor WeightLoader::transformed(const std::string& module, const at::Tensor& weight) const
{
    return m_transform ? m_transform(module, weight).contiguous() : weight;
}

} // namespace qs
