// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The calibration an export runs before it writes (llm-compressor's oneshot with a recipe): on the
// block runner, layer by layer over the calibration samples, SmoothQuant (the smoothed norms and
// weights), GPTQ (each module's codes and scales) and the static activation scales of every
// quantized module's input, kept in a CalibratedTensors store for the exporters. Memory stays
// bounded by one layer, its Hessians and the samples' hidden states. Plain data in and out.
#include "algo/algorithm_settings.h"
#include "algo/awq_mapping_report.h"
#include "quant/quant_scheme.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace qs {

class CalibratedTensors;
class Checkpoint;
class Progress;

struct ExportCalibrationRequest
{
    QuantScheme scheme; // the export's (its activation mode decides whether input scales are measured)
    std::map<std::string, QuantScheme> moduleSchemes;
    std::set<std::string> quantized; // full paths of the Linear modules the export quantizes
    AlgorithmSettings algorithms;
    std::filesystem::path data; // see loadEvalTokens
    int samples = 64; // calibration samples of seqLen tokens, from the data's start
    int seqLen = 512;
    // SmoothQuant as fms-mo's DQ flow does it for the AIU export instead of llm-compressor's
    // folding: per smoothed layer s = absmax(x)^alpha / max_o|W|^(1-alpha), the weight quantized as
    // W * s and s kept for the checkpoint's smoothq_scale (the AIU divides the input by it).
    bool fmsMoSmoothQuant = false;
    std::uint64_t maxMemory = 0; // the block runner's (0: what the machine can spare)
    std::filesystem::path spillDirectory;
};

struct ExportCalibrationReport
{
    int samples = 0;
    std::int64_t tokens = 0;
    std::vector<std::string> algorithms; // "smoothquant" or "awq", "gptq", "static_activations"
    std::vector<SmoothQuantMapping> mappings; // SmoothQuant's, as applied (the family's defaults when none were given)
    int smoothedNorms = 0;
    std::vector<SmoothQuantMapping> awqMappings; // AWQ's, as applied
    std::vector<AwqMappingReport> awq; // per mapping of every layer: the grid point chosen, its losses
    int smoothedModules = 0; // fms-mo's SmoothQuant: layers with a smoothq_scale
    std::map<std::string, double> gptqLoss; // per module
    std::vector<std::string> warnings;
    int inputScales = 0;
    double seconds = 0;
    std::uint64_t peakRssBytes = 0;
};

// The calibration samples of the request: the first `samples` windows of seqLen tokens of its
// data. UsageError for data shorter than one sample or samples longer than the model's positions.
std::vector<std::vector<std::int64_t>> exportCalibrationSamples(
    const Checkpoint& checkpoint, const ExportCalibrationRequest& request);

// Whether an export with this scheme and these algorithms needs a calibration pass.
bool exportNeedsCalibration(const QuantScheme& scheme, const AlgorithmSettings& algorithms);

// UsageError before any work for data shorter than one sample, mappings that match nothing, a
// scheme GPTQ cannot produce; FormatError naming the block that fails to load.
ExportCalibrationReport calibrateForExport(
    const Checkpoint& checkpoint, const ExportCalibrationRequest& request, CalibratedTensors& out, Progress& progress);

} // namespace qs
