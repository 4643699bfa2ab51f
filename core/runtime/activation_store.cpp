// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/activation_store.h"

#include "error.h"
#include "io/hdf5_file.h"
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
using namespace hdf5;
namespace {

constexpr const char* kLayout = "quantscope-activations";
constexpr std::int64_t kLayoutVersion = 1;

// --- writing ---------------------------------------------------------------------------------

void floatDataset(hid_t group, const char* name, const std::vector<float>& values, const std::vector<hsize_t>& dims)
{
    if (!values.empty())
        writeDataset(group, name, values.data(), dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float));
}

void writePoint(hid_t parent, const ActivationStats& s)
{
    Handle group(H5Gcreate2(parent, s.point.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "H5Gcreate2",
        "its group");
    const hid_t g = group.get();
    const Histogram& h = s.histogram;
    writeStringAttribute(g, "kind", s.kind);
    writeAttribute(g, "tokens", s.tokens);
    writeAttribute(g, "channels", s.channels);
    writeAttribute(g, "global_min", s.globalMin);
    writeAttribute(g, "global_max", s.globalMax);
    writeAttribute(g, "histogram_lo", h.lo);
    writeAttribute(g, "histogram_hi", h.hi);
    writeAttribute(g, "histogram_below", h.below);
    writeAttribute(g, "histogram_above", h.above);
    writeAttribute(g, "histogram_non_finite", h.nonFinite);
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
    writeStringAttribute(file, "layout", kLayout);
    writeAttribute(file, "layout_version", kLayoutVersion);
    if (attributes.is_object()) {
        for (const auto& item : attributes.items()) {
            const nlohmann::json& v = item.value();
            writeStringAttribute(file, item.key(),
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
    s.kind = readStringAttribute(g, "kind");
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
    if (!hasAttribute(file, "layout"))
        throw FormatError("no 'layout' attribute: not a QuantScope activation file");
    const std::string layout = readStringAttribute(file, "layout");
    if (layout != kLayout)
        throw FormatError("the layout is '" + layout + "', not '" + kLayout + "' (not a QuantScope activation file)");
    const auto version = readNumber<std::int64_t>(file, "layout_version", H5T_NATIVE_INT64);
    if (version < 1 || version > kLayoutVersion)
        throw FormatError("layout_version " + std::to_string(version) + " is not supported (this QuantScope reads "
            + std::to_string(kLayoutVersion) + ")");
    if (!hasLink(file, "activations"))
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
