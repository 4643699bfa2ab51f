// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/hdf5_file.h"

#include "error.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace qs::hdf5 {
namespace {

herr_t innermostError(unsigned n, const H5E_error2_t* error, void* out)
{
    if (n == 0 && error && error->desc)
        *static_cast<std::string*>(out) = error->desc;
    return 0;
}

std::string shapeText(const std::vector<hsize_t>& dims)
{
    std::string s;
    for (hsize_t d : dims)
        s += (s.empty() ? "" : ", ") + std::to_string(d);
    return "[" + s + "]";
}

} // namespace

void fail(const char* call, const std::string& what)
{
    std::string detail;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermostError, &detail);
    throw IoError(std::string(call) + " failed (" + what + ")" + (detail.empty() ? "" : ": " + detail));
}

Handle::Handle(hid_t id, herr_t (*close)(hid_t), const char* call, const std::string& what)
    : m_id(id)
    , m_close(close)
{
    if (id < 0)
        fail(call, what);
}

Handle::~Handle()
{
    if (m_id >= 0)
        m_close(m_id);
}

Handle::Handle(Handle&& other) noexcept
    : m_id(std::exchange(other.m_id, -1))
    , m_close(other.m_close)
{ }

Handle& Handle::operator=(Handle&& other) noexcept
{
    if (this != &other) {
        if (m_id >= 0)
            m_close(m_id);
        m_id = std::exchange(other.m_id, -1);
        m_close = other.m_close;
    }
    return *this;
}

void Handle::close(const char* call, const std::string& what)
{
    const herr_t status = m_close(m_id);
    m_id = -1;
    check(status, call, what);
}

QuietErrors::QuietErrors()
{
    H5Eget_auto2(H5E_DEFAULT, &m_func, &m_data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors()
{
    H5Eset_auto2(H5E_DEFAULT, m_func, m_data);
}

Handle createGroup(hid_t parent, const std::string& name, hid_t createProperties)
{
    return Handle(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, createProperties, H5P_DEFAULT), H5Gclose,
        "H5Gcreate2", "group " + name);
}

void writeStringAttribute(hid_t object, const std::string& name, const std::string& value)
{
    const std::string what = "attribute " + name;
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy", what);
    check(H5Tset_size(type.get(), std::max<std::size_t>(1, value.size())), "H5Tset_size", what);
    check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset", what);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate", what);
    Handle attr(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
        "H5Acreate2", what);
    check(H5Awrite(attr.get(), type.get(), value.c_str()), "H5Awrite", what);
}

void writeNumberAttribute(hid_t object, const std::string& name, const void* value, hid_t fileType, hid_t memType)
{
    const std::string what = "attribute " + name;
    Handle space(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate", what);
    Handle attr(H5Acreate2(object, name.c_str(), fileType, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
        "H5Acreate2", what);
    check(H5Awrite(attr.get(), memType, value), "H5Awrite", what);
}

void writeDataset(hid_t group, const std::string& name, const void* data, const std::vector<hsize_t>& dims,
    hid_t fileType, hid_t memType, std::size_t elementSize, const DatasetOptions& options)
{
    const std::string what = "dataset " + name;
    Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
        H5Sclose, "H5Screate", what);
    Handle plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate", what);
    hsize_t elements = 1;
    for (hsize_t d : dims)
        elements *= d;
    const std::uint64_t bytes = elements * elementSize;
    if (!dims.empty() && elements > 0 && bytes >= options.chunkFromBytes) {
        std::vector<hsize_t> chunk = dims;
        const hsize_t rowBytes = std::max<hsize_t>(1, elements / dims[0] * elementSize);
        chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], (hsize_t(1) << 20) / rowBytes));
        check(H5Pset_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk", what);
        if (options.gzip > 0) {
            check(H5Pset_shuffle(plist.get()), "H5Pset_shuffle", what);
            check(H5Pset_deflate(plist.get(), static_cast<unsigned>(std::min(options.gzip, 9))), "H5Pset_deflate",
                what);
        }
    }
    Handle set(H5Dcreate2(group, name.c_str(), fileType, space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
        H5Dclose, "H5Dcreate2", what);
    check(H5Dwrite(set.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite", what);
}

bool hasAttribute(hid_t object, const char* name)
{
    const htri_t exists = H5Aexists(object, name);
    if (exists < 0)
        fail("H5Aexists", std::string("attribute ") + name);
    return exists > 0;
}

bool hasLink(hid_t group, const char* name)
{
    const htri_t exists = H5Lexists(group, name, H5P_DEFAULT);
    if (exists < 0)
        fail("H5Lexists", name);
    return exists > 0;
}

std::string readStringAttribute(hid_t object, const char* name)
{
    if (!hasAttribute(object, name))
        throw FormatError(std::string("the attribute '") + name + "' is missing");
    const std::string what = std::string("attribute ") + name;
    Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose, "H5Aopen", what);
    Handle type(H5Aget_type(attr.get()), H5Tclose, "H5Aget_type", what);
    Handle space(H5Aget_space(attr.get()), H5Sclose, "H5Aget_space", what);
    if (H5Tget_class(type.get()) != H5T_STRING || H5Sget_simple_extent_npoints(space.get()) != 1)
        throw FormatError(std::string("the attribute '") + name + "' is not one string");
    const htri_t variable = H5Tis_variable_str(type.get());
    if (variable < 0)
        fail("H5Tis_variable_str", what);
    if (variable > 0) { // as h5py writes Python strings
        Handle mem(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy", what);
        check(H5Tset_size(mem.get(), H5T_VARIABLE), "H5Tset_size", what);
        check(H5Tset_cset(mem.get(), H5Tget_cset(type.get())), "H5Tset_cset", what);
        char* value = nullptr;
        check(H5Aread(attr.get(), mem.get(), &value), "H5Aread", what);
        std::string out = value ? value : "";
        H5free_memory(value);
        return out;
    }
    const std::size_t size = H5Tget_size(type.get());
    std::vector<char> buffer(size + 1, '\0');
    check(H5Aread(attr.get(), type.get(), buffer.data()), "H5Aread", what);
    return std::string(buffer.data(), strnlen(buffer.data(), size));
}

void readNumberAttribute(hid_t object, const char* name, hid_t memType, void* out)
{
    if (!hasAttribute(object, name))
        throw FormatError(std::string("the attribute '") + name + "' is missing");
    const std::string what = std::string("attribute ") + name;
    Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose, "H5Aopen", what);
    Handle type(H5Aget_type(attr.get()), H5Tclose, "H5Aget_type", what);
    Handle space(H5Aget_space(attr.get()), H5Sclose, "H5Aget_space", what);
    const H5T_class_t cls = H5Tget_class(type.get());
    if ((cls != H5T_INTEGER && cls != H5T_FLOAT) || H5Sget_simple_extent_npoints(space.get()) != 1)
        throw FormatError(std::string("the attribute '") + name + "' is not one number");
    check(H5Aread(attr.get(), memType, out), "H5Aread", what);
}

Dataset::Dataset(Handle set, std::string name, std::vector<hsize_t> dims)
    : m_set(std::move(set))
    , m_name(std::move(name))
    , m_dims(std::move(dims))
{ }

std::optional<Dataset> Dataset::open(
    hid_t group, const char* name, H5T_class_t cls, const std::vector<std::int64_t>& expected)
{
    const std::string what = std::string("dataset ") + name;
    if (!hasLink(group, name))
        return std::nullopt;
    Handle set(H5Dopen2(group, name, H5P_DEFAULT), H5Dclose, "H5Dopen2", what);
    Handle type(H5Dget_type(set.get()), H5Tclose, "H5Dget_type", what);
    if (H5Tget_class(type.get()) != cls)
        throw FormatError("the dataset '" + std::string(name) + "' has the wrong element type");
    Handle space(H5Dget_space(set.get()), H5Sclose, "H5Dget_space", what);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0)
        fail("H5Sget_simple_extent_ndims", what);
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "H5Sget_simple_extent_dims", what);
    bool fits = dims.size() == expected.size();
    std::string want;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        want += (i ? ", " : "") + (expected[i] < 0 ? std::string("any") : std::to_string(expected[i]));
        if (fits && expected[i] >= 0 && dims[i] != static_cast<hsize_t>(expected[i]))
            fits = false;
    }
    if (!fits)
        throw FormatError(
            "the dataset '" + std::string(name) + "' has the shape " + shapeText(dims) + ", not [" + want + "]");
    return Dataset(std::move(set), name, std::move(dims));
}

std::size_t Dataset::elements(std::size_t elementSize) const
{
    hsize_t n = 1;
    for (hsize_t d : m_dims) {
        if (d != 0 && n > std::numeric_limits<std::size_t>::max() / elementSize / d)
            throw FormatError("the dataset '" + m_name + "' is too large");
        n *= d;
    }
    return static_cast<std::size_t>(n);
}

void Dataset::read(hid_t memType, void* out) const
{
    check(H5Dread(m_set.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), "H5Dread", "dataset " + m_name);
}

} // namespace qs::hdf5
