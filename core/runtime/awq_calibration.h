// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// AWQ (llm-compressor's AWQ transform, core/algo/awq.h) as a calibration stream of the block
// runner. As llm-compressor gives it a pass of its own, its statistics come from the float model:
// the calibration samples run through the float layer while the input of each mapping's first
// balance layer is kept (its mean |x| per channel, and the parent's input); then, mapping by mapping
// in order, the grid search runs the parent (self_attn, mlp, or the single balance Linear) on
// those inputs with each candidate's Q(W s) / s, the winner is folded into the float layer (W s,
// and 1/s into the smooth norm or Linear), and the quantized layer gets the folded weights quantized
// again. The float layer's outputs go on. Streams after it in the same layer (GPTQ, static
// activation ranges, the evaluation) see the rescaled layer. Memory: the kept inputs of one layer
// (the calibration tokens times the parents' input widths, float32) up to a budget, the rest in an
// unnamed file.
#include "algo/awq.h"
#include "algo/awq_mapping_report.h"
#include "quant/quant_scheme.h"
#include "runtime/block_runner.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qs {

struct AwqSettings
{
    std::vector<SmoothQuantMapping> mappings; // empty: defaultAwqMappings of the family
    std::vector<std::string> ignore; // mappings whose smooth layer matches one are skipped
    AwqDuoScaling duoScaling = AwqDuoScaling::On;
    int nGrid = 20;
    // The kept parent inputs held in memory (0: a quarter of what the machine can spare); the rest
    // waits in an unnamed file in `spillDirectory` (empty: the temporary folder) and is read back
    // for each grid point.
    std::uint64_t keptMemory = 0;
    std::filesystem::path spillDirectory;
    // llm-awq's clip search after the scales (algo/awq.h awqClip) on every quantized balance layer
    // but q and k (as llm-awq: their product makes a clip hard to judge), on the scaled inputs.
    bool clip = false;
    AwqClipOptions clipOptions;
};

struct AwqOutcome
{
    std::map<std::string, at::Tensor> scales; // per smooth layer of the last layer: s, float32 [in]
    std::set<std::string> changedLinears; // of the last layer: Linear modules whose float weights changed
    std::map<std::string, at::Tensor> clipped; // of the last layer: the clip search's weights (float, scaled)
    std::vector<AwqMappingReport> mappings; // every mapping of every layer, in order
};

// The settings a run asks for, after the checks every run makes before any work: UsageError for a
// scheme that quantizes activations (llm-compressor's AWQ keeps them 16-bit) or with SmoothQuant
// (both rescale the balance layers). A quarter of `maxMemory` (0: automatic) holds kept inputs.
AwqSettings awqSettingsFor(const QuantScheme& scheme, bool smoothQuant, std::vector<SmoothQuantMapping> mappings,
    std::vector<std::string> ignore, const std::string& duoScaling, int nGrid, std::uint64_t maxMemory,
    std::filesystem::path spillDirectory);

// The settings with their mappings checked against the checkpoint before any work starts:
// UsageError naming a mapping whose smooth or balance layers match nothing, a grid too small, or a
// family without default mappings.
AwqSettings checkedAwqSettings(const ModelBlocks& model, AwqSettings settings);

// `schemeOf(module)`: the scheme a balance layer is quantized with in the grid search (none: it is
// kept in full precision and only rescaled); `quantize`: the transform of the quantized variant,
// applied again to the rescaled weights.
std::shared_ptr<LayerCalibration> awqCalibration(int floatWeights, WeightTransform quantize,
    std::function<std::optional<QuantScheme>(const std::string&)> schemeOf, AwqSettings settings,
    std::shared_ptr<AwqOutcome> outcome, CancelToken cancel);

} // namespace qs
