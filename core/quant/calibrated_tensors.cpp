// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/calibrated_tensors.h"

#include "error.h"
#include "io/anonymous_file.h"
#include "io/torch_dtype.h"

#include <ATen/ATen.h>

#include <unistd.h>

#include <cmath>
#include <limits>

namespace qs {
namespace {

constexpr std::uint64_t kAlignment = 64;

ErrorMetrics errorOf(const at::Tensor& original, const at::Tensor& reconstructed)
{
    const at::Tensor x = original.to(at::kDouble).reshape({ -1 });
    const at::Tensor y = reconstructed.to(at::kDouble).reshape({ -1 });
    const at::Tensor e = x - y;
    ErrorMetrics m;
    m.count = x.numel();
    const double signal = x.pow(2).sum().item<double>(), error = e.pow(2).sum().item<double>();
    const double norms = std::sqrt(signal * y.pow(2).sum().item<double>());
    m.mse = m.count > 0 ? error / static_cast<double>(m.count) : 0;
    m.sqnrDb = error > 0 ? 10 * std::log10(signal / error) : std::numeric_limits<double>::infinity();
    m.maxAbsError = m.count > 0 ? e.abs().max().item<double>() : 0;
    m.cosine = norms > 0 ? (x * y).sum().item<double>() / norms : 1;
    return m;
}

} // namespace

CalibratedTensors::CalibratedTensors(const std::filesystem::path& folder)
    : m_folder(folder.empty() ? std::filesystem::temp_directory_path() : folder)
{
    m_fd = openAnonymousFile(m_folder, "the calibration's results");
}

CalibratedTensors::~CalibratedTensors()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

CalibratedTensors::Stored CalibratedTensors::store(const at::Tensor& t)
{
    Stored s;
    if (!t.defined())
        return s;
    const at::Tensor c = t.contiguous();
    s.type = c.scalar_type();
    s.shape.assign(c.sizes().begin(), c.sizes().end());
    s.offset = m_size;
    s.defined = true;
    const auto bytes = static_cast<std::uint64_t>(c.numel()) * c.element_size();
    writeAt(m_fd, c.data_ptr(), bytes, s.offset, "the calibration's results (" + m_folder.string() + ")");
    m_size += (bytes + kAlignment - 1) / kAlignment * kAlignment;
    return s;
}

at::Tensor CalibratedTensors::load(const Stored& s) const
{
    if (!s.defined)
        return {};
    at::Tensor t = at::empty(s.shape, at::TensorOptions().dtype(s.type));
    readAt(m_fd, t.data_ptr(), static_cast<std::size_t>(t.numel()) * t.element_size(), s.offset,
        "the calibration's results (" + m_folder.string() + ")");
    return t;
}

void CalibratedTensors::replace(const TensorInfo& original, const at::Tensor& values)
{
    at::Tensor v = values;
    if (v.sizes().vec() != original.shape) {
        if (v.dim() == 2 && original.shape.size() == 2 && v.size(0) == original.shape[1] && v.size(1) == original.shape[0])
            v = v.t(); // a Conv1D weight, stored [in, out]
        else
            throw UsageError("a calibrated tensor of another shape than the checkpoint's",
                ErrorContext { original.source, original.name, {} });
    }
    const at::Tensor stored = v.to(toScalarType(original.dtype)).contiguous();
    const Stored s = store(stored);
    TensorInfo t = original;
    t.source.clear();
    t.offset = s.offset;
    t.bytes = static_cast<std::uint64_t>(stored.numel()) * stored.element_size();
    t.strides.clear();
    t.aliasOf.clear();
    for (auto& r : m_replaced) {
        if (r.name == t.name) {
            r = t;
            return;
        }
    }
    m_replaced.push_back(std::move(t));
}

void CalibratedTensors::add(const std::string& name, const TensorInfo& like, const at::Tensor& values)
{
    const at::Tensor stored = values.to(toScalarType(like.dtype)).contiguous();
    const Stored s = store(stored);
    TensorInfo t = like;
    t.name = name;
    t.shape = stored.sizes().vec();
    t.source.clear();
    t.offset = s.offset;
    t.bytes = static_cast<std::uint64_t>(stored.numel()) * stored.element_size();
    t.strides.clear();
    t.aliasOf.clear();
    m_added.push_back(std::move(t));
}

void CalibratedTensors::setQuantized(const std::string& weightName, const SchemeQuantized& q,
    const at::Tensor& reference, const at::Tensor& dequantized, const at::Tensor& groupIndex)
{
    Quantized e;
    e.meta.scheme = q.scheme;
    e.meta.shape = q.shape;
    e.meta.codeType = q.codeType;
    e.meta.clippedFraction = q.clippedFraction;
    e.meta.error = errorOf(reference, dequantized.defined() ? dequantized : dequantizeScheme(q));
    e.codes = store(q.codes);
    e.scale = store(q.scale);
    e.zeroPoint = store(q.zeroPoint);
    e.clip = store(q.clip);
    e.groupIndex = store(groupIndex.defined() ? groupIndex.to(at::kInt) : groupIndex);
    m_quantized[weightName] = std::move(e);
}

Checkpoint CalibratedTensors::apply(const Checkpoint& checkpoint) const
{
    if (m_replaced.empty() && m_added.empty() && m_configPatch.empty())
        return checkpoint;
    // A path the mapping can open while the file has no name of its own.
    return checkpoint.withReplacedTensors("/proc/self/fd/" + std::to_string(m_fd), m_replaced, m_added, m_configPatch);
}

std::optional<SchemeQuantized> CalibratedTensors::quantized(const std::string& weightName) const
{
    const auto it = m_quantized.find(weightName);
    if (it == m_quantized.end())
        return std::nullopt;
    SchemeQuantized q = it->second.meta;
    q.codes = load(it->second.codes);
    q.scale = load(it->second.scale);
    q.zeroPoint = load(it->second.zeroPoint);
    q.clip = load(it->second.clip);
    return q;
}

void CalibratedTensors::setSmoothScale(const std::string& module, const at::Tensor& scale)
{
    m_smoothScales[module] = store(scale.to(at::kFloat).reshape({ -1 }));
}

at::Tensor CalibratedTensors::smoothScale(const std::string& module) const
{
    const auto it = m_smoothScales.find(module);
    return it == m_smoothScales.end() ? at::Tensor() : load(it->second);
}

std::vector<std::string> CalibratedTensors::smoothedModules() const
{
    std::vector<std::string> out;
    for (const auto& [module, stored] : m_smoothScales)
        out.push_back(module);
    return out;
}

at::Tensor CalibratedTensors::groupIndex(const std::string& weightName) const
{
    const auto it = m_quantized.find(weightName);
    return it == m_quantized.end() ? at::Tensor() : load(it->second.groupIndex);
}

std::optional<float> CalibratedTensors::inputScale(const std::string& module) const
{
    const auto it = m_inputScales.find(module);
    return it == m_inputScales.end() ? std::nullopt : std::optional<float>(it->second);
}

} // namespace qs
