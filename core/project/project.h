// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "algo/algorithm_settings.h"
#include "export/exporter.h"
#include "quant/quant_scheme.h"
#include "select/selection_rule.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace qs {

// What the export of a project writes and where.
struct ProjectExport
{
    ExportFormat format = ExportFormat::CompressedTensors;
    std::filesystem::path destination; // empty: `run` needs -o
    bool overwrite = false;
    std::uint64_t maxShardBytes = 10'000'000'000ULL;
    int nxdKeepShape = 0; // 0 flat, 1 under "model", 2 with "draft_model"
    int hdf5Gzip = 4;
    bool hdf5IncludeOriginal = false;
};

// The samples the algorithms (and static activation ranges) are measured on.
struct ProjectCalibration
{
    std::filesystem::path data;
    int samples = 64;
    int seqLen = 512;
};

// A session saved as a QuantScope project (.qsproj, JSON with a schema version): the checkpoint,
// the keep rules (their per-module "quantize PRESET" schemes included), the scheme, the
// algorithms and their calibration, and the export target. The GUI saves and opens it;
// `quantscope-cli run` replays it (projectConversion: the same export as the GUI's).
struct Project
{
    static constexpr int kSchemaVersion = 1;

    std::filesystem::path checkpoint; // absolute
    std::vector<SelectionRule> rules;
    QuantScheme scheme;
    AlgorithmSettings algorithms;
    std::optional<ProjectCalibration> calibration; // none: no calibration data
    ProjectExport output;
};

// The JSON of a project saved as `file`: every path absolute, the checkpoint's also relative to
// the project's folder (so that a project moved with its model still finds it).
//   {"quantscope_project": 1, "checkpoint": {"path", "relative"}, "rules": [...], "scheme": {...},
//    "algorithms": {...}, "calibration": {"data", "samples", "seq_len"} | null,
//    "export": {"format", "destination", "overwrite", "max_shard_size", "nxd_keep_shape",
//    "hdf5_gzip", "hdf5_original"}}
nlohmann::ordered_json projectToJson(const Project& project, const std::filesystem::path& file);
// Reads what projectToJson wrote. A newer schema version is refused with the version named; an
// unknown or missing field, a wrong type or value throws UsageError naming it. The checkpoint is
// its absolute path when that exists, else the relative one resolved against `file`'s folder.
Project projectFromJson(const nlohmann::ordered_json& json, const std::filesystem::path& file);

// Files; errors name the file. Writing is atomic.
Project readProject(const std::filesystem::path& file);
void writeProject(const std::filesystem::path& file, const Project& project);

} // namespace qs
