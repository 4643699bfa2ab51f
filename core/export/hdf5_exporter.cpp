#include "export/hdf5_exporter.h"

#include "error.h"
#include "export/export_support.h"
#include "io/checkpoint.h"
#include "io/hdf5_lock.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <hdf5.h>

#include <algorithm>

namespace qs {
namespace {

constexpr const char* kFileName = "quantscope_dump.h5";

// Owns one HDF5 identifier and closes it with the right function.
class Handle
{
public:
    Handle(hid_t id, herr_t (*close)(hid_t), const std::string& what)
        : m_id(id)
        , m_close(close)
    {
        if (id < 0)
            throw IoError("HDF5: cannot " + what);
    }
    ~Handle()
    {
        if (m_id >= 0)
            m_close(m_id);
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    hid_t get() const { return m_id; }

private:
    hid_t m_id;
    herr_t (*m_close)(hid_t);
};

void check(herr_t status, const std::string& what)
{
    if (status < 0)
        throw IoError("HDF5: cannot " + what);
}

void stringAttribute(hid_t object, const char* name, const std::string& value)
{
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "make a string type");
    check(H5Tset_size(type.get(), std::max<std::size_t>(1, value.size())), "size a string");
    check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "set UTF-8");
    Handle space(H5Screate(H5S_SCALAR), H5Sclose, "make a scalar space");
    Handle attr(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
        std::string("create attribute ") + name);
    check(H5Awrite(attr.get(), type.get(), value.c_str()), std::string("write attribute ") + name);
}

template <typename T> void numberAttribute(hid_t object, const char* name, T value, hid_t type)
{
    Handle space(H5Screate(H5S_SCALAR), H5Sclose, "make a scalar space");
    Handle attr(H5Acreate2(object, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
        std::string("create attribute ") + name);
    check(H5Awrite(attr.get(), type, &value), std::string("write attribute ") + name);
}

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
// and gzip-compressed at `gzip` when it is large enough to be worth it.
void writeDataset(hid_t group, const char* name, const at::Tensor& tensor, int gzip)
{
    const at::Tensor t
        = tensor.scalar_type() == at::kChar || tensor.scalar_type() == at::kByte || tensor.scalar_type() == at::kLong
        ? tensor.contiguous()
        : tensor.to(at::kFloat).contiguous();
    std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
    Handle space(
        dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
        H5Sclose, "make a dataspace");
    Handle plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "make dataset properties");
    if (!dims.empty() && t.numel() * t.element_size() >= 64 * 1024) {
        std::vector<hsize_t> chunk = dims;
        const hsize_t rowBytes
            = static_cast<hsize_t>(t.numel() / std::max<std::int64_t>(t.size(0), 1) * t.element_size());
        chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], (1u << 20) / std::max<hsize_t>(rowBytes, 1)));
        check(H5Pset_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data()), "set chunking");
        if (gzip > 0) {
            check(H5Pset_shuffle(plist.get()), "set the shuffle filter");
            check(H5Pset_deflate(plist.get(), static_cast<unsigned>(std::min(gzip, 9))), "set gzip");
        }
    }
    Handle set(H5Dcreate2(group, name, fileTypeOf(t.scalar_type()), space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
        H5Dclose, std::string("create dataset ") + name);
    check(H5Dwrite(set.get(), memoryTypeOf(t.scalar_type()), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()),
        std::string("write dataset ") + name);
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
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); // errors become exceptions, not stderr noise
    m_file->file = H5Fcreate(m_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (m_file->file < 0)
        throw IoError("HDF5: cannot create the dump", ErrorContext { m_path.string(), {}, {} });
    stringAttribute(m_file->file, "layout", "quantscope-dump");
    numberAttribute<std::int64_t>(m_file->file, "layout_version", 1, H5T_NATIVE_INT64);
    stringAttribute(m_file->file, "scheme", schemeToJson(m_options.scheme).dump());
    for (const char* g : { "tensors", "kept", "activations" })
        Handle(
            H5Gcreate2(m_file->file, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, std::string("create ") + g);
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
            payload->q = quantizeWithScheme(
                source.loadFloat(tensor.input.name), m_options.schemeFor(tensor.input.name), options);
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
    Handle group(H5Gcreate2(m_file->file, path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
        "create the group of " + tensor.input.name);
    stringAttribute(group.get(), "dtype", p.dtype);
    stringAttribute(group.get(), "shape", nlohmann::json(tensor.input.shape).dump());
    if (p.quantized) {
        const SchemeQuantized& q = p.q;
        stringAttribute(group.get(), "scheme", schemeToJson(q.scheme).dump());
        stringAttribute(group.get(), "code_type", std::string(dtypeName(q.codeType)));
        numberAttribute(group.get(), "mse", q.error.mse, H5T_NATIVE_DOUBLE);
        numberAttribute(group.get(), "sqnr_db", q.error.sqnrDb, H5T_NATIVE_DOUBLE);
        numberAttribute(group.get(), "max_abs_error", q.error.maxAbsError, H5T_NATIVE_DOUBLE);
        numberAttribute(group.get(), "cosine", q.error.cosine, H5T_NATIVE_DOUBLE);
        numberAttribute(group.get(), "clipped_fraction", q.clippedFraction, H5T_NATIVE_DOUBLE);
        numberAttribute<std::int64_t>(group.get(), "recomputed_rows", q.recomputedRows, H5T_NATIVE_INT64);
        writeDataset(group.get(), "codes", q.codes.reshape(tensor.input.shape), gzip);
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
    check(H5Fflush(m_file->file, H5F_SCOPE_GLOBAL), "flush the dump");
    m_file.reset();
    m_files.push_back(kFileName);
}

std::vector<std::string> Hdf5Exporter::files() const
{
    return m_files;
}

} // namespace qs
