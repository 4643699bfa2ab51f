#include "runtime/activation_store.h"

#include "error.h"
#include "io/hdf5_lock.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <random>
#include <set>

namespace qs {
namespace fs = std::filesystem;
namespace {

constexpr const char* kLayout = "quantscope-activations";
constexpr std::int64_t kLayoutVersion = 1;
constexpr unsigned kGzip = 4;

herr_t innermostError(unsigned n, const H5E_error2_t* error, void* out)
{
    if (n == 0 && error && error->desc)
        *static_cast<std::string*>(out) = error->desc;
    return 0;
}

// Throws IoError naming the HDF5 call, what it was for, and the innermost message on HDF5's
// error stack (the errno text of a failed open or write, ...).
[[noreturn]] void fail(const char* call, const std::string& what)
{
    std::string detail;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermostError, &detail);
    throw IoError(std::string(call) + " failed (" + what + ")" + (detail.empty() ? "" : ": " + detail));
}

void check(herr_t status, const char* call, const std::string& what)
{
    if (status < 0)
        fail(call, what);
}

// Owns one HDF5 identifier and closes it with the right function.
class Handle
{
public:
    Handle(hid_t id, herr_t (*close)(hid_t), const char* call, const std::string& what)
        : m_id(id)
        , m_close(close)
    {
        if (id < 0)
            fail(call, what);
    }
    ~Handle()
    {
        if (m_id >= 0)
            m_close(m_id);
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    hid_t get() const { return m_id; }
    // Closes now and reports a failure (a file's close writes its last metadata).
    void close(const char* call, const std::string& what)
    {
        const herr_t status = m_close(m_id);
        m_id = -1;
        check(status, call, what);
    }

private:
    hid_t m_id;
    herr_t (*m_close)(hid_t);
};

// HDF5 prints its error stack to stderr by default; errors become exceptions here instead.
// The previous handler comes back on scope exit.
class QuietErrors
{
public:
    QuietErrors()
    {
        H5Eget_auto2(H5E_DEFAULT, &m_func, &m_data);
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }
    ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, m_func, m_data); }
    QuietErrors(const QuietErrors&) = delete;
    QuietErrors& operator=(const QuietErrors&) = delete;

private:
    H5E_auto2_t m_func = nullptr;
    void* m_data = nullptr;
};

// --- writing ---------------------------------------------------------------------------------

void stringAttribute(hid_t object, const std::string& name, const std::string& value)
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

template <typename T> void numberAttribute(hid_t object, const char* name, T value, hid_t fileType, hid_t memType)
{
    const std::string what = std::string("attribute ") + name;
    Handle space(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate", what);
    Handle attr(
        H5Acreate2(object, name, fileType, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "H5Acreate2", what);
    check(H5Awrite(attr.get(), memType, &value), "H5Awrite", what);
}

// A rank-1 or rank-2 dataset, chunked by whole rows of about 1 MiB and gzip-compressed; nothing
// when it would be empty.
void writeDataset(hid_t group, const char* name, const void* data, std::vector<hsize_t> dims, hid_t fileType,
    hid_t memType, hsize_t elementSize)
{
    if (std::find(dims.begin(), dims.end(), hsize_t(0)) != dims.end())
        return;
    const std::string what = std::string("dataset ") + name;
    Handle space(
        H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose, "H5Screate_simple", what);
    Handle plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate", what);
    std::vector<hsize_t> chunk = dims;
    const hsize_t rowBytes = (dims.size() > 1 ? dims[1] : 1) * elementSize;
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], (hsize_t(1) << 20) / rowBytes));
    check(H5Pset_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk", what);
    check(H5Pset_shuffle(plist.get()), "H5Pset_shuffle", what);
    check(H5Pset_deflate(plist.get(), kGzip), "H5Pset_deflate", what);
    Handle set(H5Dcreate2(group, name, fileType, space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT), H5Dclose,
        "H5Dcreate2", what);
    check(H5Dwrite(set.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite", what);
}

void floatDataset(hid_t group, const char* name, const std::vector<float>& values, std::vector<hsize_t> dims)
{
    if (!values.empty())
        writeDataset(group, name, values.data(), std::move(dims), H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float));
}

void writePoint(hid_t parent, const ActivationStats& s)
{
    Handle group(H5Gcreate2(parent, s.point.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "H5Gcreate2",
        "its group");
    const hid_t g = group.get();
    const Histogram& h = s.histogram;
    stringAttribute(g, "kind", s.kind);
    numberAttribute(g, "tokens", s.tokens, H5T_STD_I64LE, H5T_NATIVE_INT64);
    numberAttribute(g, "channels", s.channels, H5T_STD_I64LE, H5T_NATIVE_INT64);
    numberAttribute(g, "global_min", s.globalMin, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
    numberAttribute(g, "global_max", s.globalMax, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
    numberAttribute(g, "histogram_lo", h.lo, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
    numberAttribute(g, "histogram_hi", h.hi, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
    numberAttribute(g, "histogram_below", h.below, H5T_STD_U64LE, H5T_NATIVE_UINT64);
    numberAttribute(g, "histogram_above", h.above, H5T_STD_U64LE, H5T_NATIVE_UINT64);
    numberAttribute(g, "histogram_non_finite", h.nonFinite, H5T_STD_U64LE, H5T_NATIVE_UINT64);
    const auto channels = static_cast<hsize_t>(s.channels);
    floatDataset(g, "min", s.min, { channels });
    floatDataset(g, "max", s.max, { channels });
    floatDataset(g, "abs_max", s.absMax, { channels });
    floatDataset(g, "mean", s.mean, { channels });
    floatDataset(g, "sq_mean", s.sqMean, { channels });
    floatDataset(g, "token_max", s.tokenMax, { s.tokenMax.size() });
    if (!h.counts.empty()) // uint64 counts, stored as int64 (HDF5 converts)
        writeDataset(g, "histogram", h.counts.data(), { h.counts.size() }, H5T_STD_I64LE, H5T_NATIVE_UINT64,
            sizeof(std::uint64_t));
    floatDataset(g, "sample", s.sample, { static_cast<hsize_t>(s.sampleRows), channels });
}

void writeContents(hid_t file, const std::vector<ActivationStats>& points, const nlohmann::json& attributes)
{
    stringAttribute(file, "layout", kLayout);
    numberAttribute(file, "layout_version", kLayoutVersion, H5T_STD_I64LE, H5T_NATIVE_INT64);
    if (attributes.is_object()) {
        for (const auto& item : attributes.items()) {
            const nlohmann::json& v = item.value();
            stringAttribute(file, item.key(),
                v.is_string() ? v.get<std::string>()
                              : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        }
    }
    Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "H5Pcreate", "group /activations");
    check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "H5Pset_link_creation_order", "group /activations");
    Handle group(H5Gcreate2(file, "activations", H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose, "H5Gcreate2",
        "group /activations");
    for (const ActivationStats& p : points) {
        try {
            writePoint(group.get(), p);
        } catch (const IoError& e) {
            throw IoError("point '" + p.point + "': " + e.reason());
        }
    }
}

void validate(const std::vector<ActivationStats>& points, const nlohmann::json& attributes, const ErrorContext& where)
{
    if (!attributes.is_null() && !attributes.is_object())
        throw UsageError("the attributes of an activation file must be a JSON object", where);
    for (const auto& item : attributes.items()) {
        if (item.key().empty() || item.key() == "layout" || item.key() == "layout_version")
            throw UsageError("'" + item.key() + "' cannot name an attribute of an activation file", where);
    }
    std::set<std::string> seen;
    for (const ActivationStats& p : points) {
        const std::string at = "activation point '" + p.point + "': ";
        if (p.point.empty() || p.point == "." || p.point.find('/') != std::string::npos)
            throw UsageError(at + "not a valid name (empty, '.', or containing '/')", where);
        if (!seen.insert(p.point).second)
            throw UsageError(at + "appears twice", where);
        if (p.tokens < 0 || p.channels < 0 || p.sampleRows < 0)
            throw UsageError(at + "negative tokens, channels or sample rows", where);
        const auto channels = static_cast<std::size_t>(p.channels);
        for (const std::vector<float>* v : { &p.min, &p.max, &p.absMax, &p.mean, &p.sqMean }) {
            if (!v->empty() && v->size() != channels)
                throw UsageError(at + "per-channel statistics of " + std::to_string(v->size()) + " values for "
                        + std::to_string(channels) + " channels",
                    where);
        }
        if (p.sample.size() != static_cast<std::size_t>(p.sampleRows) * channels)
            throw UsageError(at + "a sample of " + std::to_string(p.sample.size()) + " values is not "
                    + std::to_string(p.sampleRows) + " rows of " + std::to_string(channels),
                where);
    }
}

void syncFile(const fs::path& path, const fs::path& named)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        const int err = errno;
        if (fd >= 0)
            ::close(fd);
        throw IoError::fromErrno("flushing", named.string(), err);
    }
    ::close(fd);
}

// --- reading ---------------------------------------------------------------------------------

void requireAttribute(hid_t object, const char* name)
{
    const htri_t exists = H5Aexists(object, name);
    if (exists < 0)
        fail("H5Aexists", std::string("attribute ") + name);
    if (exists == 0)
        throw FormatError(std::string("the attribute '") + name + "' is missing");
}

std::string readString(hid_t object, const char* name)
{
    requireAttribute(object, name);
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

template <typename T> T readNumber(hid_t object, const char* name, hid_t memType)
{
    requireAttribute(object, name);
    const std::string what = std::string("attribute ") + name;
    Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose, "H5Aopen", what);
    Handle type(H5Aget_type(attr.get()), H5Tclose, "H5Aget_type", what);
    Handle space(H5Aget_space(attr.get()), H5Sclose, "H5Aget_space", what);
    const H5T_class_t cls = H5Tget_class(type.get());
    if ((cls != H5T_INTEGER && cls != H5T_FLOAT) || H5Sget_simple_extent_npoints(space.get()) != 1)
        throw FormatError(std::string("the attribute '") + name + "' is not one number");
    T value {};
    check(H5Aread(attr.get(), memType, &value), "H5Aread", what);
    return value;
}

std::string shapeText(const std::vector<hsize_t>& dims)
{
    std::string s;
    for (hsize_t d : dims)
        s += (s.empty() ? "" : ", ") + std::to_string(d);
    return "[" + s + "]";
}

// The dataset `name` read as `T` (HDF5 converts from any type of class `cls`), or nothing when
// it is absent. `expected` holds the dimensions it must have, -1 for any. FormatError otherwise.
template <typename T>
std::vector<T> readDataset(hid_t group, const char* name, hid_t memType, H5T_class_t cls,
    const std::vector<std::int64_t>& expected, std::vector<hsize_t>* shape = nullptr)
{
    const std::string what = std::string("dataset ") + name;
    const htri_t exists = H5Lexists(group, name, H5P_DEFAULT);
    if (exists < 0)
        fail("H5Lexists", what);
    if (exists == 0)
        return {};
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
    hsize_t n = 1;
    for (hsize_t d : dims) {
        if (d != 0 && n > std::numeric_limits<std::size_t>::max() / sizeof(T) / d)
            throw FormatError("the dataset '" + std::string(name) + "' is too large");
        n *= d;
    }
    std::vector<T> out(static_cast<std::size_t>(n));
    if (n > 0)
        check(H5Dread(set.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "H5Dread", what);
    if (shape)
        *shape = dims;
    return out;
}

std::vector<float> readFloats(
    hid_t group, const char* name, const std::vector<std::int64_t>& expected, std::vector<hsize_t>* shape = nullptr)
{
    return readDataset<float>(group, name, H5T_NATIVE_FLOAT, H5T_FLOAT, expected, shape);
}

ActivationStats readPoint(hid_t parent, const std::string& name)
{
    const hid_t id = H5Gopen2(parent, name.c_str(), H5P_DEFAULT);
    if (id < 0)
        throw FormatError("not a group");
    Handle group(id, H5Gclose, "H5Gopen2", "its group");
    const hid_t g = group.get();
    ActivationStats s;
    s.point = name;
    s.kind = readString(g, "kind");
    s.tokens = readNumber<std::int64_t>(g, "tokens", H5T_NATIVE_INT64);
    s.channels = readNumber<std::int64_t>(g, "channels", H5T_NATIVE_INT64);
    if (s.tokens < 0 || s.channels < 0)
        throw FormatError("negative tokens or channels");
    s.globalMin = readNumber<double>(g, "global_min", H5T_NATIVE_DOUBLE);
    s.globalMax = readNumber<double>(g, "global_max", H5T_NATIVE_DOUBLE);
    Histogram& h = s.histogram;
    h.lo = readNumber<double>(g, "histogram_lo", H5T_NATIVE_DOUBLE);
    h.hi = readNumber<double>(g, "histogram_hi", H5T_NATIVE_DOUBLE);
    h.below = readNumber<std::uint64_t>(g, "histogram_below", H5T_NATIVE_UINT64);
    h.above = readNumber<std::uint64_t>(g, "histogram_above", H5T_NATIVE_UINT64);
    h.nonFinite = readNumber<std::uint64_t>(g, "histogram_non_finite", H5T_NATIVE_UINT64);
    const std::int64_t c = s.channels;
    s.min = readFloats(g, "min", { c });
    s.max = readFloats(g, "max", { c });
    s.absMax = readFloats(g, "abs_max", { c });
    s.mean = readFloats(g, "mean", { c });
    s.sqMean = readFloats(g, "sq_mean", { c });
    s.tokenMax = readFloats(g, "token_max", { -1 });
    const auto counts = readDataset<std::int64_t>(g, "histogram", H5T_NATIVE_INT64, H5T_INTEGER, { -1 });
    if (std::any_of(counts.begin(), counts.end(), [](std::int64_t n) { return n < 0; }))
        throw FormatError("the dataset 'histogram' holds negative counts");
    h.counts.assign(counts.begin(), counts.end());
    std::vector<hsize_t> shape;
    s.sample = readFloats(g, "sample", { -1, c }, &shape);
    s.sampleRows = shape.empty() ? 0 : static_cast<std::int64_t>(shape[0]);
    return s;
}

std::vector<ActivationStats> readContents(hid_t file)
{
    const htri_t hasLayout = H5Aexists(file, "layout");
    if (hasLayout < 0)
        fail("H5Aexists", "attribute layout");
    if (hasLayout == 0)
        throw FormatError("no 'layout' attribute: not a QuantScope activation file");
    const std::string layout = readString(file, "layout");
    if (layout != kLayout)
        throw FormatError("the layout is '" + layout + "', not '" + kLayout + "' (not a QuantScope activation file)");
    const auto version = readNumber<std::int64_t>(file, "layout_version", H5T_NATIVE_INT64);
    if (version < 1 || version > kLayoutVersion)
        throw FormatError("layout_version " + std::to_string(version) + " is not supported (this QuantScope reads "
            + std::to_string(kLayoutVersion) + ")");
    const htri_t exists = H5Lexists(file, "activations", H5P_DEFAULT);
    if (exists < 0)
        fail("H5Lexists", "group /activations");
    if (exists == 0)
        throw FormatError("the group /activations is missing");
    Handle group(H5Gopen2(file, "activations", H5P_DEFAULT), H5Gclose, "H5Gopen2", "group /activations");
    Handle gcpl(H5Gget_create_plist(group.get()), H5Pclose, "H5Gget_create_plist", "group /activations");
    unsigned order = 0;
    check(H5Pget_link_creation_order(gcpl.get(), &order), "H5Pget_link_creation_order", "group /activations");
    const H5_index_t index = (order & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
    H5G_info_t info;
    check(H5Gget_info(group.get(), &info), "H5Gget_info", "group /activations");
    std::vector<ActivationStats> points;
    points.reserve(static_cast<std::size_t>(info.nlinks));
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        const ssize_t length = H5Lget_name_by_idx(group.get(), ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (length < 0)
            fail("H5Lget_name_by_idx", "group /activations");
        std::vector<char> name(static_cast<std::size_t>(length) + 1, '\0');
        if (H5Lget_name_by_idx(group.get(), ".", index, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT) < 0)
            fail("H5Lget_name_by_idx", "group /activations");
        const std::string point(name.data(), static_cast<std::size_t>(length));
        try {
            points.push_back(readPoint(group.get(), point));
        } catch (const FormatError& e) {
            throw FormatError("point '" + point + "': " + e.reason());
        } catch (const IoError& e) {
            throw IoError("point '" + point + "': " + e.reason());
        }
    }
    return points;
}

std::string uniqueSuffix()
{
    std::random_device rd;
    return std::to_string(::getpid()) + "-" + std::to_string(rd() & 0xffffff);
}

} // namespace

void writeActivationsHdf5(
    const fs::path& file, const std::vector<ActivationStats>& points, const nlohmann::json& attributes)
{
    const std::lock_guard<std::mutex> lock(hdf5Mutex());
    const ErrorContext where { file.string(), {}, {} };
    validate(points, attributes, where);
    const fs::path temp = file.string() + ".tmp-" + uniqueSuffix();
    const QuietErrors quiet;
    bool created = false;
    auto removeTemp = [&] {
        std::error_code ec;
        if (created)
            fs::remove(temp, ec);
    };
    try {
        Handle f(H5Fcreate(temp.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose, "H5Fcreate",
            "the temporary file " + temp.filename().string());
        created = true;
        writeContents(f.get(), points, attributes);
        f.close("H5Fclose", "the temporary file " + temp.filename().string());
        syncFile(temp, file);
        if (::rename(temp.c_str(), file.c_str()) != 0)
            throw IoError::fromErrno("renaming into place", file.string(), errno);
    } catch (const IoError& e) {
        removeTemp();
        if (e.context().file.empty())
            throw IoError(e.reason(), where);
        throw;
    } catch (...) {
        removeTemp();
        throw;
    }
}

std::vector<ActivationStats> readActivationsHdf5(const fs::path& file)
{
    const std::lock_guard<std::mutex> lock(hdf5Mutex());
    const ErrorContext where { file.string(), {}, {} };
    std::error_code ec;
    if (!fs::exists(file, ec))
        throw IoError("the file does not exist", where);
    const QuietErrors quiet;
    try {
        if (H5Fis_hdf5(file.c_str()) == 0)
            throw FormatError("not an HDF5 file", where);
        Handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "H5Fopen", "the file");
        return readContents(f.get());
    } catch (const FormatError& e) {
        if (e.context().file.empty())
            throw FormatError(e.reason(), where);
        throw;
    } catch (const IoError& e) {
        if (e.context().file.empty())
            throw IoError(e.reason(), where);
        throw;
    }
}

} // namespace qs
