// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// GPTQ as a calibration stream of the block runner, as llm-compressor's sequential pipeline runs
// it: per layer, the calibration samples go through the float layer while each quantized
// module's Hessian accumulates, GPTQ replaces the module's fake-quantized weight, and the samples
// go on through the GPTQ'd layer to the next.
#include "algo/gptq.h"
#include "quant/quant_scheme.h"
#include "runtime/block_runner.h"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace qs {

struct GptqSettings
{
    int blockSize = 128;
    double dampening = 0.01;
    std::string actOrder = "static"; // static (weight), group (dynamic), none
    bool staticGroups = true;
};

// What GPTQ did, filled in as the layers run.
struct GptqOutcome
{
    std::map<std::string, double> loss; // per module
    std::vector<std::string> warnings; // modules rounded to nearest, naming the reason
    int modules = 0;
    // Called with each module's result and the float weight it started from (an export keeps the
    // codes).
    std::function<void(const std::string& module, const GptqResult& result, const at::Tensor& floatWeight)> keep;
};

// The calibration for the modules in `modules` (the quantized ones), each with its own scheme
// from `moduleSchemes` or `scheme`. `floatWeights`: the runner's variant with the checkpoint's
// weights. UsageError for settings GPTQ cannot run (an unknown order, a scheme it does not
// quantize, named with the module).
std::shared_ptr<LayerCalibration> gptqCalibration(int floatWeights, const QuantScheme& scheme,
    std::map<std::string, QuantScheme> moduleSchemes, std::set<std::string> modules, const GptqSettings& settings,
    std::shared_ptr<GptqOutcome> outcome, CancelToken cancel);

} // namespace qs
