// SPDX-License-Identifier: GPL-3.0-or-later
#include "project/project.h"

#include "algo/algorithm_settings_json.h"
#include "error.h"
#include "io/atomic_file.h"

#include <fstream>
#include <set>
#include <sstream>

namespace qs {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;

const char* const kNxdShapes[] = { "flat", "model", "draft" };

[[noreturn]] void wrong(const std::string& field, const std::string& what)
{
    throw UsageError("project: '" + field + "' " + what);
}

// The object's fields must be exactly `fields` (all present, none other).
void expectFields(const Json& j, const std::string& where, std::initializer_list<const char*> fields)
{
    if (!j.is_object())
        wrong(where, "must be a JSON object");
    std::set<std::string> known;
    for (const char* f : fields) {
        known.insert(f);
        if (!j.contains(f))
            wrong(where, std::string("lacks the field '") + f + "'");
    }
    for (const auto& item : j.items()) {
        if (!known.count(item.key()))
            wrong(where, "has an unknown field '" + item.key() + "' (a newer QuantScope's, or a typo)");
    }
}

std::string text(const Json& v, const std::string& field)
{
    if (!v.is_string())
        wrong(field, "must be a string");
    return v.get<std::string>();
}

bool boolean(const Json& v, const std::string& field)
{
    if (!v.is_boolean())
        wrong(field, "must be true or false");
    return v.get<bool>();
}

long long integer(const Json& v, const std::string& field, long long lo, long long hi)
{
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
        wrong(field, "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v.get<long long>();
}

fs::path absolutePath(const fs::path& p)
{
    return p.empty() ? p : fs::absolute(p).lexically_normal();
}

Json exportToJson(const ProjectExport& e)
{
    Json j;
    j["format"] = exportFormatName(e.format);
    j["destination"] = absolutePath(e.destination).string();
    j["overwrite"] = e.overwrite;
    j["max_shard_size"] = e.maxShardBytes;
    j["nxd_keep_shape"] = kNxdShapes[e.nxdKeepShape];
    j["hdf5_gzip"] = e.hdf5Gzip;
    j["hdf5_original"] = e.hdf5IncludeOriginal;
    return j;
}

ProjectExport exportFromJson(const Json& j)
{
    expectFields(j, "export",
        { "format", "destination", "overwrite", "max_shard_size", "nxd_keep_shape", "hdf5_gzip", "hdf5_original" });
    ProjectExport e;
    const std::string format = text(j["format"], "export.format");
    const auto parsed = exportFormatFromName(format);
    if (!parsed)
        wrong(
            "export.format", "'" + format + "' is not a format (nxd, compressed-tensors, aiu, hdf5, nxd-fp8-rescale)");
    e.format = *parsed;
    e.destination = text(j["destination"], "export.destination");
    e.overwrite = boolean(j["overwrite"], "export.overwrite");
    if (!j["max_shard_size"].is_number_unsigned() || j["max_shard_size"].get<std::uint64_t>() == 0)
        wrong("export.max_shard_size", "must be a positive number of bytes");
    e.maxShardBytes = j["max_shard_size"].get<std::uint64_t>();
    const std::string shape = text(j["nxd_keep_shape"], "export.nxd_keep_shape");
    e.nxdKeepShape = -1;
    for (int i = 0; i < 3; ++i) {
        if (shape == kNxdShapes[i])
            e.nxdKeepShape = i;
    }
    if (e.nxdKeepShape < 0)
        wrong("export.nxd_keep_shape", "must be flat, model or draft");
    e.hdf5Gzip = static_cast<int>(integer(j["hdf5_gzip"], "export.hdf5_gzip", 0, 9));
    e.hdf5IncludeOriginal = boolean(j["hdf5_original"], "export.hdf5_original");
    return e;
}

Json rulesToJsonArray(const std::vector<SelectionRule>& rules)
{
    return Json::parse(rulesToJson(rules));
}

} // namespace

Json projectToJson(const Project& p, const fs::path& file)
{
    Json j;
    j["quantscope_project"] = Project::kSchemaVersion;
    const fs::path checkpoint = absolutePath(p.checkpoint);
    const fs::path folder = absolutePath(file).parent_path();
    j["checkpoint"]
        = Json { { "path", checkpoint.string() }, { "relative", checkpoint.lexically_relative(folder).string() } };
    j["rules"] = rulesToJsonArray(p.rules);
    j["scheme"] = schemeToJson(p.scheme);
    j["algorithms"] = algorithmSettingsToJson(p.algorithms);
    if (p.calibration)
        j["calibration"] = Json { { "data", absolutePath(p.calibration->data).string() },
            { "samples", p.calibration->samples }, { "seq_len", p.calibration->seqLen } };
    else
        j["calibration"] = nullptr;
    j["export"] = exportToJson(p.output);
    return j;
}

Project projectFromJson(const Json& j, const fs::path& file)
{
    if (!j.is_object() || !j.contains("quantscope_project"))
        throw UsageError("not a QuantScope project: it has no \"quantscope_project\" schema version");
    const Json& version = j["quantscope_project"];
    if (!version.is_number_integer() || version.get<long long>() < 1)
        wrong("quantscope_project", "must be a schema version (1)");
    if (version.get<long long>() > Project::kSchemaVersion)
        throw UsageError("the project has schema version " + std::to_string(version.get<long long>())
            + ", written by a newer QuantScope; this one reads version " + std::to_string(Project::kSchemaVersion));
    expectFields(
        j, "project", { "quantscope_project", "checkpoint", "rules", "scheme", "algorithms", "calibration", "export" });

    Project p;
    expectFields(j["checkpoint"], "checkpoint", { "path", "relative" });
    const fs::path stored = text(j["checkpoint"]["path"], "checkpoint.path");
    const fs::path relative = text(j["checkpoint"]["relative"], "checkpoint.relative");
    const fs::path besideProject = (absolutePath(file).parent_path() / relative).lexically_normal();
    std::error_code ec;
    p.checkpoint
        = fs::exists(stored, ec) || relative.empty() || !fs::exists(besideProject, ec) ? stored : besideProject;

    if (!j["rules"].is_array())
        wrong("rules", "must be an array of rules");
    for (const auto& rule : j["rules"]) {
        if (!rule.is_object())
            wrong("rules", "must be an array of {\"syntax\", \"pattern\", \"action\", \"scheme\", \"origin\"}");
        for (const auto& item : rule.items()) {
            static const std::set<std::string> known { "syntax", "pattern", "action", "scheme", "origin" };
            if (!known.count(item.key()))
                wrong("rules", "hold an unknown field '" + item.key() + "'");
            if (!item.value().is_string())
                wrong("rules." + item.key(), "must be a string");
        }
    }
    p.rules = rulesFromJson(j["rules"].dump());
    for (const auto& r : p.rules) {
        if (!r.scheme.empty() && !findSchemePreset(r.scheme))
            wrong("rules", "name the scheme preset '" + r.scheme + "', which this QuantScope does not have");
    }
    if (!j["scheme"].is_object())
        wrong("scheme", "must be a JSON object");
    p.scheme = schemeFromJson(j["scheme"]);
    p.scheme.validate();
    p.algorithms = algorithmSettingsFromJson(j["algorithms"]);
    if (!j["calibration"].is_null()) {
        expectFields(j["calibration"], "calibration", { "data", "samples", "seq_len" });
        ProjectCalibration c;
        c.data = text(j["calibration"]["data"], "calibration.data");
        c.samples = static_cast<int>(integer(j["calibration"]["samples"], "calibration.samples", 1, 1 << 20));
        c.seqLen = static_cast<int>(integer(j["calibration"]["seq_len"], "calibration.seq_len", 1, 1 << 20));
        p.calibration = c;
    }
    p.output = exportFromJson(j["export"]);
    return p;
}

Project readProject(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw IoError("cannot read the project", ErrorContext { file.string(), {}, {} });
    std::stringstream buffer;
    buffer << in.rdbuf();
    Json j;
    try {
        j = Json::parse(buffer.str());
    } catch (const nlohmann::json::parse_error& e) {
        throw FormatError(std::string("not valid JSON: ") + e.what(), ErrorContext { file.string(), {}, {} });
    }
    try {
        return projectFromJson(j, file);
    } catch (const UsageError& e) {
        throw FormatError(e.reason(), ErrorContext { file.string(), {}, {} });
    }
}

void writeProject(const fs::path& file, const Project& project)
{
    writeFileAtomically(file, projectToJson(project, file).dump(2) + "\n");
}

} // namespace qs
