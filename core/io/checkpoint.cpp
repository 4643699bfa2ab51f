// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/checkpoint.h"

#include "error.h"
#include "io/checkpoint_impl.h"
#include "io/torch_dtype.h"
#include "quant/dequantize.h"
#include "quant/fp8.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstring>

namespace qs {
namespace fs = std::filesystem;

namespace {

// The highest element index a strided tensor reaches, plus one (its storage span).
std::uint64_t spanElements(const TensorInfo& info)
{
    if (info.isContiguous())
        return static_cast<std::uint64_t>(info.numel());
    std::uint64_t last = 0;
    for (std::size_t i = 0; i < info.shape.size(); ++i) {
        if (info.shape[i] == 0)
            return 0;
        last += static_cast<std::uint64_t>(info.shape[i] - 1) * static_cast<std::uint64_t>(info.strides[i]);
    }
    return last + 1;
}

at::Tensor viewOf(const std::shared_ptr<const MappedFile>& mapping, const TensorInfo& info, bool populate = true)
{
    const auto type = toScalarType(info.dtype);
    const auto options = at::TensorOptions().dtype(type).device(at::kCPU);
    auto* data = const_cast<std::uint8_t*>(mapping->data() + info.offset);
    const std::uint64_t spanBytes = spanElements(info) * dtypeSize(info.dtype);
    if (info.offset + spanBytes > mapping->size())
        throw FormatError("the tensor's data runs past the end of the file");
    const auto strides = info.isContiguous() ? contiguousStrides(info.shape) : info.strides;
    if (reinterpret_cast<std::uintptr_t>(data) % dtypeSize(info.dtype) != 0) {
        // Misaligned data would break vectorised kernels: copy this one tensor's span.
        at::Tensor copy = at::empty({ static_cast<std::int64_t>(spanElements(info)) }, options);
        std::memcpy(copy.data_ptr(), data, spanBytes);
        return copy.as_strided(info.shape, strides);
    }
    if (populate && spanBytes >= (1u << 20))
        mapping->populate(info.offset, spanBytes); // the caller is about to read all of it
    return at::from_blob(
        data, info.shape, strides, [keepAlive = mapping](void*) {}, options);
}

// Copies a strided tensor's elements into row-major order, byte-wise (works for any dtype).
std::vector<std::uint8_t> gatherStrided(const std::uint8_t* base, const TensorInfo& info)
{
    const std::size_t elem = dtypeSize(info.dtype);
    std::vector<std::uint8_t> out(info.bytes);
    const std::size_t rank = info.shape.size();
    std::vector<std::int64_t> index(rank, 0);
    const std::int64_t n = info.numel();
    std::uint64_t src = 0; // element offset of `index`
    for (std::int64_t i = 0; i < n; ++i) {
        std::memcpy(out.data() + static_cast<std::size_t>(i) * elem, base + src * elem, elem);
        for (std::size_t d = rank; d-- > 0;) { // odometer increment
            src += static_cast<std::uint64_t>(info.strides[d]);
            if (++index[d] < info.shape[d])
                break;
            src -= static_cast<std::uint64_t>(info.strides[d] * info.shape[d]);
            index[d] = 0;
        }
    }
    return out;
}

} // namespace

Checkpoint Checkpoint::open(const fs::path& path)
{
    auto impl = std::make_shared<Impl>();
    discoverCheckpoint(*impl, path);
    Checkpoint checkpoint;
    checkpoint.m_impl = std::move(impl);
    return checkpoint;
}

const std::string& Checkpoint::format() const
{
    return m_impl->format;
}

const fs::path& Checkpoint::path() const
{
    return m_impl->path;
}

const fs::path& Checkpoint::folder() const
{
    return m_impl->folder;
}

std::vector<fs::path> Checkpoint::dataFiles() const
{
    return m_impl->filePaths;
}

const std::string& Checkpoint::layout() const
{
    return m_impl->layout;
}

const std::vector<std::string>& Checkpoint::notes() const
{
    return m_impl->notes;
}

const std::vector<TensorInfo>& Checkpoint::tensors() const
{
    return m_impl->tensors;
}

const TensorInfo* Checkpoint::find(std::string_view name) const
{
    const auto it = m_impl->byName.find(std::string(name));
    return it == m_impl->byName.end() ? nullptr : &m_impl->tensors[it->second];
}

const TensorInfo& Checkpoint::info(std::string_view name) const
{
    if (const auto* t = find(name))
        return *t;
    throw UsageError(
        "no such tensor in this checkpoint", ErrorContext { m_impl->path.string(), std::string(name), {} });
}

std::uint64_t Checkpoint::totalBytes() const
{
    std::uint64_t total = 0;
    for (const auto& t : m_impl->tensors)
        total += t.aliasOf.empty() ? t.bytes : 0;
    return total;
}

std::int64_t Checkpoint::parameterCount() const
{
    std::int64_t total = 0;
    for (const auto& t : m_impl->tensors)
        total += t.aliasOf.empty() ? t.numel() : 0;
    return total;
}

const nlohmann::json& Checkpoint::config() const
{
    return m_impl->config;
}

std::string Checkpoint::modelType() const
{
    const auto it = m_impl->config.find("model_type");
    return it != m_impl->config.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const std::map<std::string, std::string>& Checkpoint::metadata() const
{
    return m_impl->metadata;
}

at::Tensor Checkpoint::load(std::string_view name) const
{
    const auto [t, mapping] = m_impl->locate(name);
    try {
        return viewOf(mapping, *t);
    } catch (const FormatError& e) {
        throw FormatError(e.reason(), ErrorContext { t->source, t->name, t->offset });
    }
}

at::Tensor Checkpoint::loadLazy(std::string_view name) const
{
    const auto [t, mapping] = m_impl->locate(name);
    try {
        return viewOf(mapping, *t, false);
    } catch (const FormatError& e) {
        throw FormatError(e.reason(), ErrorContext { t->source, t->name, t->offset });
    }
}

at::Tensor Checkpoint::loadRows(std::string_view name, std::int64_t begin, std::int64_t end) const
{
    const auto [t, mapping] = m_impl->locate(name);
    const at::Tensor rows = loadLazy(name).slice(0, begin, end);
    if (t->isContiguous() && !t->shape.empty() && t->shape[0] > 0) {
        const std::uint64_t rowBytes = t->bytes / static_cast<std::uint64_t>(t->shape[0]);
        mapping->populate(t->offset + static_cast<std::uint64_t>(begin) * rowBytes,
            static_cast<std::uint64_t>(end - begin) * rowBytes);
    }
    return rows;
}

Checkpoint::RawBytes Checkpoint::raw(std::string_view name) const
{
    const auto [t, mapping] = m_impl->locate(name);
    const std::uint64_t spanBytes = spanElements(*t) * dtypeSize(t->dtype);
    if (t->offset + spanBytes > mapping->size())
        throw FormatError(
            "the tensor's data runs past the end of the file", ErrorContext { t->source, t->name, t->offset });
    if (t->isContiguous())
        return RawBytes { mapping, mapping->data() + t->offset, t->bytes };
    auto copy = std::make_shared<std::vector<std::uint8_t>>(gatherStrided(mapping->data() + t->offset, *t));
    return RawBytes { copy, copy->data(), copy->size() };
}

at::Tensor Checkpoint::loadFloat(std::string_view name) const
{
    const auto [t, mapping] = m_impl->locate(name);
    if (t->dtype == DType::F8_E4M3 || t->dtype == DType::F8_E5M2) {
        const RawBytes bytes = raw(name);
        at::Tensor out = at::empty(t->shape, at::TensorOptions().dtype(at::kFloat));
        decodeFp8(t->dtype == DType::F8_E4M3 ? Fp8Format::E4M3 : Fp8Format::E5M2, bytes.data, bytes.size,
            out.data_ptr<float>());
        return out;
    }
    return load(name).to(at::kFloat);
}

const fs::path& Checkpoint::tokenizerFile() const
{
    return m_impl->tokenizer;
}

const QuantizationInfo& Checkpoint::quantization() const
{
    return m_impl->quantization;
}

at::Tensor Checkpoint::loadDequantized(std::string_view name) const
{
    const auto& recipes = m_impl->quantization.recipes;
    const auto it = recipes.find(std::string(name));
    if (it == recipes.end())
        return loadFloat(name);
    return dequantizeWeight(*this, it->second);
}

Checkpoint Checkpoint::withReplacedTensors(const fs::path& file, const std::vector<TensorInfo>& replaced,
    const std::vector<TensorInfo>& added, const nlohmann::json& configPatch) const
{
    auto impl = std::make_shared<Impl>(*m_impl);
    impl->mappings.push_back(MappedFile::open(file));
    const std::size_t index = impl->mappings.size() - 1; // not a data file of the model (dataFiles())
    for (const TensorInfo& r : replaced) {
        const auto it = impl->byName.find(r.name);
        if (it == impl->byName.end())
            throw UsageError("a replacement for a tensor the checkpoint does not have", ErrorContext { path().string(), r.name, {} });
        TensorInfo& t = impl->tensors[it->second];
        if (t.dtype != r.dtype || t.shape != r.shape)
            throw UsageError("a replacement of another dtype or shape (" + formatShape(r.shape) + " instead of "
                    + formatShape(t.shape) + ")",
                ErrorContext { path().string(), r.name, {} });
        if (r.offset + r.bytes > impl->mappings[index]->size())
            throw FormatError("the replacement runs past the end of its file", ErrorContext { file.string(), r.name, r.offset });
        t.source = file.string();
        t.offset = r.offset;
        t.bytes = r.bytes;
        t.strides.clear();
        t.aliasOf.clear();
        impl->fileOf[it->second] = index;
    }
    for (const TensorInfo& a : added) {
        if (a.offset + a.bytes > impl->mappings[index]->size())
            throw FormatError("the added tensor runs past the end of its file", ErrorContext { file.string(), a.name, a.offset });
        if (!impl->byName.emplace(a.name, impl->tensors.size()).second)
            throw UsageError("an added tensor the checkpoint already has", ErrorContext { path().string(), a.name, {} });
        TensorInfo t = a;
        t.source = file.string();
        impl->tensors.push_back(std::move(t));
        impl->fileOf.push_back(index);
    }
    if (configPatch.is_object())
        impl->config.update(configPatch);
    Checkpoint out;
    out.m_impl = std::move(impl);
    return out;
}

void Checkpoint::release(std::string_view name) const
{
    if (find(name)) {
        const auto [t, mapping] = m_impl->locate(name);
        mapping->dontNeed(t->offset, t->bytes);
    }
}

} // namespace qs
