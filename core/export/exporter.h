// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "algo/algorithm_settings.h"
#include "jobs/conversion_plan.h"
#include "jobs/progress.h"
#include "quant/error_metrics.h"
#include "quant/quant_scheme.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

class Checkpoint;
class CalibratedTensors;

enum class ExportFormat
{
    Nxd, // AWS Neuron NxD: int8 per-channel `.weight` + float32 `.scale`, modules_to_not_convert.json
    CompressedTensors, // vLLM compressed-tensors: int/float/pack-quantized, quantization_config in config.json
    Aiu, // IBM AIU (fms-mo): qmodel_for_aiu.pt (int8 + fp16 clip_val, the rest fp16) and qcfg.json
    Hdf5, // an analysis dump: codes, scales, statistics (and optionally the originals) in HDF5
    NxdFp8Rescale, // an OCP fp8 (+-448) checkpoint rescaled to Neuron's +-240 range
};

std::string_view exportFormatName(ExportFormat format);
std::optional<ExportFormat> exportFormatFromName(std::string_view name);

// What happened to one input tensor.
struct TensorResult
{
    std::string name;
    bool quantized = false;
    ErrorMetrics error; // meaningful when quantized
    std::uint64_t bytesIn = 0;
    std::uint64_t bytesOut = 0;
};

struct ExportOptions
{
    // The keep list as the target format spells it (NxD partial names).
    std::vector<std::string> modulesToNotConvert;
    // Full paths of the Linear modules kept in full precision (compressed-tensors `ignore`).
    std::vector<std::string> keptModulePaths;
    // The source model's config.json text (empty when it has none), for formats that extend it.
    std::string sourceConfigJson;
    std::string modelType; // config.json model_type (the AIU export's layer lists depend on it)
    // NxD: how modules_to_not_convert.json is laid out (keep_list_io.h NxdJsonShape: 0 flat,
    // 1 under "model", 2 with a "draft_model" list equal to the model's).
    int nxdKeepShape = 0;
    bool hdf5IncludeOriginal = false; // HDF5 dump: also the float32 originals
    int hdf5Gzip = 4; // HDF5 dump: gzip level, 0 for none
    std::uint64_t maxShardBytes = 10'000'000'000ULL;
    // How Linear weights are quantized. The default is the nxd-int8 preset's math; an exporter
    // refuses schemes its consumer cannot load (UsageError).
    QuantScheme scheme;
    // Per-module exceptions (full module path -> scheme), from quantize rules with a scheme.
    std::map<std::string, QuantScheme> moduleSchemes;
    // What a calibration computed (GPTQ's codes, static input scales), and the algorithms it ran
    // for the recipe an export writes. None: round to nearest, and static schemes are refused.
    std::shared_ptr<const CalibratedTensors> calibrated;
    AlgorithmSettings algorithms;

    // The scheme of the weight `tensorName` ("<module>.weight").
    const QuantScheme& schemeFor(const std::string& tensorName) const;
};

// What an exporter computed for one planned tensor, ready to be written: its report line and
// the exporter's own payload (codes and scales, or the mapped bytes of a copied tensor).
struct PreparedTensor
{
    TensorResult result;
    std::shared_ptr<void> payload;
};

// How prepare() may run: whether it may split a tensor over threads (the conversion pool turns
// this off when it already runs one tensor per core), and a flag that aborts it between rows
// with CancelledError.
struct PrepareControl
{
    bool parallel = true;
    CancelToken cancel;
};

// One output format. The conversion job drives it: begin() with the whole plan; prepare() for
// each planned tensor, on any thread and concurrently (it loads what it needs from the source
// checkpoint and quantizes); commit() the prepared tensors one at a time in plan order (the
// writing); then finish(). Everything goes into `directory`, which the job renames into place.
class Exporter
{
public:
    virtual ~Exporter() = default;

    virtual void begin(const ConversionPlan& plan, const std::filesystem::path& directory) = 0;
    virtual PreparedTensor prepare(
        const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control = {}) const = 0;
    virtual void commit(const PlannedTensor& tensor, PreparedTensor& prepared) = 0;
    virtual void finish() = 0;
    // The files written so far (relative to the directory), for the report.
    virtual std::vector<std::string> files() const = 0;

    // prepare() then commit(), on the calling thread.
    TensorResult write(const PlannedTensor& tensor, const Checkpoint& source);
};

std::unique_ptr<Exporter> makeExporter(ExportFormat format, ExportOptions options);

} // namespace qs
