// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "export/exporter.h"
#include "quant/quant_scheme.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace qs {

class Checkpoint;
class ModuleTree;
class Progress;

struct ConversionOptions
{
    std::filesystem::path destination; // a folder; must not exist unless `overwrite`
    // Keys the written config.json overrides in the source's (a rotated tied model's
    // tie_word_embeddings: false); empty: the source's config.json as it is.
    nlohmann::json configPatch = nlohmann::json::object();
    ExportFormat format = ExportFormat::Nxd;
    // Module paths kept in full precision (a container keeps every Linear below it).
    std::set<std::string> keptModules;
    // The keep list written for the target. When empty, it is derived from keptModules in
    // the target's naming style (for NxD: compactNxdKeepList).
    std::vector<std::string> modulesToNotConvert;
    bool overwrite = false;
    std::uint64_t maxShardBytes = 10'000'000'000ULL;
    QuantScheme scheme; // default: nxd-int8 math (int8, per output channel, absmax/127)
    // Per-module exceptions: full module path -> scheme (quantize rules with a scheme).
    std::map<std::string, QuantScheme> moduleSchemes;
    int nxdKeepShape = 0; // NxD modules_to_not_convert.json: 0 flat, 1 under "model", 2 with "draft_model"
    bool hdf5IncludeOriginal = false; // HDF5 dump: also the float32 originals of every tensor
    int hdf5Gzip = 4; // HDF5 dump: gzip level (0: none)
    // Tensors quantized at the same time (0: one per core), and a bound on the input bytes of
    // the tensors in flight (one tensor is always allowed, however large).
    int workers = 0;
    std::uint64_t memoryBudgetBytes = 2ULL << 30;
    // A calibration's results (see ExportOptions); the checkpoint given to convertCheckpoint is
    // then the calibrated one (CalibratedTensors::apply).
    std::shared_ptr<const CalibratedTensors> calibrated;
    AlgorithmSettings algorithms;
};

struct ConversionReport
{
    std::filesystem::path destination;
    ExportFormat format = ExportFormat::Nxd;
    std::vector<TensorResult> tensors;
    std::vector<std::string> keptModules; // full paths of the Linear modules left unquantized
    std::vector<std::string> modulesToNotConvert; // as written
    std::vector<std::string> files; // written into the destination
    std::uint64_t bytesIn = 0;
    std::uint64_t bytesOut = 0;
    int quantizedCount = 0;
    // Hidden staging folders of killed conversions to the same destination, removed on the way.
    std::vector<std::filesystem::path> removedStaleStaging;
};

// Converts a checkpoint: plans every tensor, then streams them (load a mapped view, quantize or
// pass through on a pool of workers, write in plan order, release) into a staging folder next
// to the destination, copies the model's config and tokenizer files, and renames the folder
// into place. Peak memory tracks the tensors in flight (bounded by workers and the memory
// budget), never the model. Cancellation is checked every 20 ms and stops the tensors being
// quantized at their next row, so a cancel takes effect well within 200 ms. On error or cancel the staging folder is
// removed and the destination is untouched; the input is never modified.
ConversionReport convertCheckpoint(
    const Checkpoint& checkpoint, const ModuleTree& tree, const ConversionOptions& options, Progress& progress);

// The report every export carries (see conversion_report.h).
extern const char* const kManifestName; // "quantscope_manifest.json"

// Config and tokenizer files of a Hugging Face model folder that an export carries along.
bool isCompanionFile(const std::string& fileName);

} // namespace qs
