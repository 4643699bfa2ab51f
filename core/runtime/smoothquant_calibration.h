// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// SmoothQuant as a calibration stream of the block runner. llm-compressor's default pipeline
// gives each modifier its own pass, so SmoothQuant's ranges come from the float model: this
// stream runs the calibration samples through the float layer (recording the per-channel range of
// each mapping's norm output), smooths that layer in both weight variants (the float one, which
// keeps its function, and the quantized one, whose balance weights are quantized again from the
// smoothed float weights) and passes the float layer's outputs on. Streams after it in the same
// layer (GPTQ's Hessians, static activation ranges, the evaluation) see the smoothed layer.
#include "algo/smoothquant.h"
#include "quant/quant_scheme.h"
#include "quant/scheme_quantizer.h"
#include "runtime/block_runner.h"

#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

namespace qs {

struct SmoothQuantSettings
{
    double alpha = 0.5; // llm-compressor's smoothing_strength
    std::vector<SmoothQuantMapping> mappings; // empty: defaultSmoothQuantMappings of the family
    std::vector<std::string> ignore; // targets: mappings whose smooth layer matches one are skipped
};

struct SmoothQuantOutcome
{
    std::map<std::string, at::Tensor> scales; // per smooth layer (norm module): s, float32 [in]
    std::map<std::string, std::string> smoothOf; // balance module -> its smooth layer
};

// The settings with their mappings checked against the checkpoint before any work starts:
// UsageError naming a mapping whose smooth layer or balance layers match no module, an alpha
// outside [0, 1], or a family without default mappings.
SmoothQuantSettings checkedSmoothQuantSettings(const ModelBlocks& model, SmoothQuantSettings settings);

// `floatWeights`: the runner's variant with the checkpoint's weights; `quantize`: the transform of
// the variant the stream runs (the quantized weights), applied again to the smoothed weights.
std::shared_ptr<LayerCalibration> smoothQuantCalibration(int floatWeights, WeightTransform quantize,
    SmoothQuantSettings settings, std::shared_ptr<SmoothQuantOutcome> outcome);

// fms-mo's SmoothQuant (the DQ flow behind the AIU export), which is not folded into a norm: a float
// pass records the per-channel abs-max a of each smoothed layer's input (get_act_scales), then per
// layer s = a^alpha / clamp(max_o|W|, 1e-5)^(1 - alpha), and the weight is quantized as W * s with
// `scheme` (without narrow-weight recomputation, which fms-mo refuses on these layers); the consumer
// divides the input by s. The smoothed layers are the quantized modules whose names contain one
// of aiuSmoothQuantLayerNames(modelType); those whose inputs are all zero are skipped, as fms-mo
// skips them. `apply` gets each result with the stream's layer.
struct FmsMoSmoothing
{
    std::string module;
    at::Tensor scale; // s, float32 [in]
    at::Tensor scaledWeight; // W * s, float32 [out, in]
    SchemeQuantized quantized; // its codes
};
std::shared_ptr<LayerCalibration> fmsMoSmoothQuantCalibration(int floatWeights, const std::string& modelType,
    std::set<std::string> quantized, QuantScheme scheme, double alpha,
    std::function<void(Block& layer, const FmsMoSmoothing&)> apply);

} // namespace qs
