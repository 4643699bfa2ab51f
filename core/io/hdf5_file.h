// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The few HDF5 C calls QuantScope makes, wrapped once: owned identifiers, errors as IoError
// naming the call and HDF5's innermost message, attributes and chunked, compressed datasets,
// and checked reads. Used by the HDF5 dump exporter and the activation store. Callers hold
// hdf5Mutex() (io/hdf5_lock.h) around every use: Debian's libhdf5 is not thread-safe.

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qs::hdf5 {

// Throws IoError "<call> failed (<what>): <HDF5's innermost message>".
[[noreturn]] void fail(const char* call, const std::string& what);
inline void check(herr_t status, const char* call, const std::string& what)
{
    if (status < 0)
        fail(call, what);
}

// Owns one HDF5 identifier and closes it with the right function. A negative id is a failure
// of `call`.
class Handle
{
public:
    Handle(hid_t id, herr_t (*close)(hid_t), const char* call, const std::string& what);
    ~Handle();
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle(Handle&& other) noexcept;
    Handle& operator=(Handle&& other) noexcept;
    hid_t get() const { return m_id; }
    // Closes now and reports a failure (a file's close writes its last metadata).
    void close(const char* call, const std::string& what);

private:
    hid_t m_id;
    herr_t (*m_close)(hid_t);
};

// HDF5 prints its error stack to stderr by default; while one of these lives, errors only
// become exceptions. The previous handler comes back on scope exit.
class QuietErrors
{
public:
    QuietErrors();
    ~QuietErrors();
    QuietErrors(const QuietErrors&) = delete;
    QuietErrors& operator=(const QuietErrors&) = delete;

private:
    H5E_auto2_t m_func = nullptr;
    void* m_data = nullptr;
};

Handle createGroup(hid_t parent, const std::string& name, hid_t createProperties = H5P_DEFAULT);

// --- writing ---------------------------------------------------------------------------------

// A scalar UTF-8 string attribute.
void writeStringAttribute(hid_t object, const std::string& name, const std::string& value);
// A scalar number attribute stored as `fileType`, `value` given as `memType`.
void writeNumberAttribute(hid_t object, const std::string& name, const void* value, hid_t fileType, hid_t memType);
inline void writeAttribute(hid_t object, const std::string& name, std::int64_t value)
{
    writeNumberAttribute(object, name, &value, H5T_STD_I64LE, H5T_NATIVE_INT64);
}
inline void writeAttribute(hid_t object, const std::string& name, std::uint64_t value)
{
    writeNumberAttribute(object, name, &value, H5T_STD_U64LE, H5T_NATIVE_UINT64);
}
inline void writeAttribute(hid_t object, const std::string& name, double value)
{
    writeNumberAttribute(object, name, &value, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
}

struct DatasetOptions
{
    int gzip = 4; // deflate level (with the shuffle filter) when chunked; 0 for none
    // Chunked (whole rows, about 1 MiB a chunk) and compressed only from this many bytes on;
    // smaller datasets are stored contiguous. 0: always.
    std::uint64_t chunkFromBytes = 0;
};

// A dataset of `dims` (none: a scalar) holding `data` (`memType`, `elementSize` bytes each),
// stored as `fileType`.
void writeDataset(hid_t group, const std::string& name, const void* data, const std::vector<hsize_t>& dims,
    hid_t fileType, hid_t memType, std::size_t elementSize, const DatasetOptions& options = {});

// --- reading ---------------------------------------------------------------------------------

bool hasAttribute(hid_t object, const char* name);
bool hasLink(hid_t group, const char* name);
// A string attribute (fixed or variable length, as h5py writes); FormatError when it is missing
// or not one string.
std::string readStringAttribute(hid_t object, const char* name);
// A number attribute converted to `memType` into `out`; FormatError when missing or not a number.
void readNumberAttribute(hid_t object, const char* name, hid_t memType, void* out);
template <typename T> T readNumber(hid_t object, const char* name, hid_t memType)
{
    T value {};
    readNumberAttribute(object, name, memType, &value);
    return value;
}

// A dataset opened for reading, its element class and shape checked.
class Dataset
{
public:
    // Nothing when `name` is absent. `expected` holds the dimensions it must have, -1 for any;
    // FormatError for another rank or size or another element class.
    static std::optional<Dataset> open(
        hid_t group, const char* name, H5T_class_t cls, const std::vector<std::int64_t>& expected);
    const std::vector<hsize_t>& dims() const { return m_dims; }
    // How many elements; FormatError when their bytes would not fit in memory.
    std::size_t elements(std::size_t elementSize) const;
    // Reads every element, converted to `memType`.
    void read(hid_t memType, void* out) const;

private:
    Dataset(Handle set, std::string name, std::vector<hsize_t> dims);
    Handle m_set;
    std::string m_name;
    std::vector<hsize_t> m_dims;
};

// The dataset `name` read as `T` (HDF5 converts from any type of class `cls`), or an empty
// vector when it is absent; see Dataset::open.
template <typename T>
std::vector<T> readDataset(hid_t group, const char* name, hid_t memType, H5T_class_t cls,
    const std::vector<std::int64_t>& expected, std::vector<hsize_t>* shape = nullptr)
{
    const std::optional<Dataset> set = Dataset::open(group, name, cls, expected);
    if (!set)
        return {};
    std::vector<T> out(set->elements(sizeof(T)));
    if (!out.empty())
        set->read(memType, out.data());
    if (shape)
        *shape = set->dims();
    return out;
}

} // namespace qs::hdf5
