// SPDX-License-Identifier: GPL-3.0-or-later
#include "export/hdf5_exporter.h"

#include "error.h"
#include "export/export_support.h"
#include "io/checkpoint.h"
#include "io/hdf5_file.h"
#include "io/hdf5_lock.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <hdf5.h>

#include <algorithm>

namespace qs {
namespace {

constexpr const char* kFileName = "quantscope_dump.h5";

hid_t fileTypeOf(at::ScalarType t)
{
    switch (t) {
    case at::kChar:
        return H5T_STD_I8LE;
    case at::kByte:
        return H5T_STD_U8LE;
    case at::kLong:
        return H5T_STD_I64LE;
    default:
        return H5T_IEEE_F32LE;
    }
}

hid_t memoryTypeOf(at::ScalarType t)
{
    switch (t) {
    case at::kChar:
        return H5T_NATIVE_INT8;
    case at::kByte:
        return H5T_NATIVE_UINT8;
    case at::kLong:
        return H5T_NATIVE_INT64;
    default:
        return H5T_NATIVE_FLOAT;
    }
}

// A dataset holding `t` (int8, uint8, int64 or float32), chunked by whole rows of about 1 MiB
// and gzip-compressed at `gzip` when it is large enough (64 KiB) to be worth it.
void writeDataset(hid_t group, const char* name, const at::Tensor& tensor, int gzip)
{
    const at::Tensor t
        = tensor.scalar_type() == at::kChar || tensor.scalar_type() == at::kByte || tensor.scalar_type() == at::kLong
        ? tensor.contiguous()
        : tensor.to(at::kFloat).contiguous();
    const std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
    hdf5::DatasetOptions options;
    options.gzip = gzip;
    options.chunkFromBytes = 64 * 1024;
    hdf5::writeDataset(group, name, t.data_ptr(), dims, fileTypeOf(t.scalar_type()), memoryTypeOf(t.scalar_type()),
        static_cast<std::size_t>(t.element_size()), options);
}

struct DumpPayload
{
    bool quantized = false;
    SchemeQuantized q;
    at::Tensor original; // float32, when asked for
    std::string dtype;
};

} // namespace

struct Hdf5Exporter::File
{
    hdf5::QuietErrors quiet; // errors become exceptions, not stderr noise, while the dump is open
    hid_t file = -1;
    ~File()
    {
        if (file >= 0)
            H5Fclose(file);
    }
};

Hdf5Exporter::Hdf5Exporter(ExportOptions options)
    : m_options(std::move(options))
{
    m_options.scheme.validate();
    for (const auto& [module, scheme] : m_options.moduleSchemes)
        scheme.validate();
}

Hdf5Exporter::~Hdf5Exporter()
{
    const std::lock_guard<std::mutex> lock(hdf5Mutex());
    m_file.reset(); // closes the file if the export ended early
}

void Hdf5Exporter::begin(const ConversionPlan&, const std::filesystem::path& directory)
{
    const std::lock_guard<std::mutex> lock(hdf5Mutex());
    m_path = directory / kFileName;
    m_file = std::make_unique<File>();
    m_file->file = H5Fcreate(m_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (m_file->file < 0)
        throw IoError("HDF5: cannot create the dump", ErrorContext { m_path.string(), {}, {} });
    hdf5::writeStringAttribute(m_file->file, "layout", "quantscope-dump");
    hdf5::writeAttribute(m_file->file, "layout_version", std::int64_t { 1 });
    hdf5::writeStringAttribute(m_file->file, "scheme", schemeToJson(m_options.scheme).dump());
    for (const char* g : { "tensors", "kept", "activations" })
        hdf5::createGroup(m_file->file, g);
}

PreparedTensor Hdf5Exporter::prepare(
    const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control) const
{
    PreparedTensor prepared = preparedFor(tensor);
    TensorResult& result = prepared.result;
    auto payload = std::make_shared<DumpPayload>();
    payload->dtype = std::string(dtypeName(tensor.input.dtype));
    namingTensor(tensor, [&] {
        if (tensor.quantize) {
            QuantizeOptions options = quantizeOptionsFor(control);
            options.codeHistogram = true; // the dump keeps it
            payload->q = quantizeWithScheme(linearWeight(tensor, source), m_options.schemeFor(tensor.input.name), options);
            payload->quantized = true;
            result.quantized = true;
            result.error = payload->q.error;
            result.bytesOut = static_cast<std::uint64_t>(payload->q.codes.numel() + payload->q.scale.numel() * 4);
        }
        if (m_options.hdf5IncludeOriginal) {
            payload->original = source.loadFloat(tensor.input.name).contiguous();
            result.bytesOut += static_cast<std::uint64_t>(payload->original.numel() * 4);
        }
    });
    prepared.payload = payload;
    return prepared;
}

void Hdf5Exporter::commit(const PlannedTensor& tensor, PreparedTensor& prepared)
{
    const std::lock_guard<std::mutex> lock(hdf5Mutex());
    auto& p = *static_cast<DumpPayload*>(prepared.payload.get());
    const int gzip = m_options.hdf5Gzip;
    if (!p.quantized && !p.original.defined()) {
        prepared.payload.reset();
        return;
    }
    const std::string path = std::string(p.quantized ? "tensors/" : "kept/") + tensor.input.name;
    const hdf5::Handle group = hdf5::createGroup(m_file->file, path);
    hdf5::writeStringAttribute(group.get(), "dtype", p.dtype);
    hdf5::writeStringAttribute(group.get(), "shape", nlohmann::json(tensor.input.shape).dump());
    if (p.quantized) {
        const SchemeQuantized& q = p.q;
        hdf5::writeStringAttribute(group.get(), "scheme", schemeToJson(q.scheme).dump());
        hdf5::writeStringAttribute(group.get(), "code_type", std::string(dtypeName(q.codeType)));
        hdf5::writeAttribute(group.get(), "mse", q.error.mse);
        hdf5::writeAttribute(group.get(), "sqnr_db", q.error.sqnrDb);
        hdf5::writeAttribute(group.get(), "max_abs_error", q.error.maxAbsError);
        hdf5::writeAttribute(group.get(), "cosine", q.error.cosine);
        hdf5::writeAttribute(group.get(), "clipped_fraction", q.clippedFraction);
        hdf5::writeAttribute(group.get(), "recomputed_rows", std::int64_t { q.recomputedRows });
        if (tensor.transposed) // GPT-2's Conv1D: the codes of the [out, in] Linear weight
            hdf5::writeStringAttribute(group.get(), "layout", "transposed from the stored [in, out] (Conv1D)");
        writeDataset(group.get(), "codes", q.codes.reshape(tensor.linearShape()), gzip);
        writeDataset(group.get(), "scale", q.scale, gzip);
        if (q.zeroPoint.defined())
            writeDataset(group.get(), "zero_point", q.zeroPoint, gzip);
        writeDataset(group.get(), "code_histogram",
            at::tensor(at::ArrayRef<std::int64_t>(q.codeHistogram), at::TensorOptions().dtype(at::kLong)), gzip);
        writeDataset(group.get(), "code_std",
            at::tensor(at::ArrayRef<float>(q.codeStd), at::TensorOptions().dtype(at::kFloat)), gzip);
    }
    if (p.original.defined())
        writeDataset(group.get(), "original", p.original, gzip);
    prepared.payload.reset();
}

void Hdf5Exporter::finish()
{
    const std::lock_guard<std::mutex> lock(hdf5Mutex());
    hdf5::check(H5Fflush(m_file->file, H5F_SCOPE_GLOBAL), "H5Fflush", "the dump");
    m_file.reset();
    m_files.push_back(kFileName);
}

std::vector<std::string> Hdf5Exporter::files() const
{
    return m_files;
}

} // namespace qs
