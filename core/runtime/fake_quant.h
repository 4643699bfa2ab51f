// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Fake quantization for evaluation: each Linear weight quantized with a scheme and dequantized
// (what the exported checkpoint will compute with), and the scheme's run-time activation
// quantization applied to each Linear's input.
#include "models/language_model.h"
#include "quant/quant_scheme.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace qs {

class Progress;

// Quantizes and dequantizes every Linear weight except the kept modules (full paths), with the
// module's own scheme when `moduleSchemes` has one. Errors name the module.
WeightTransform fakeQuantizeWeights(
    const QuantScheme& scheme, std::set<std::string> kept, std::map<std::string, QuantScheme> moduleSchemes = {});

// The abs-max of every Linear's input over calibration windows: what a static per-tensor
// activation scale is computed from (observer "minmax" with a symmetric range).
using ActivationRanges = std::map<std::string, float>;
// Runs the model on each window; progress counts windows, cancellation between windows.
ActivationRanges measureActivationRanges(
    const LanguageModel& model, const std::vector<std::vector<std::int64_t>>& windows, Progress& progress);
// The hook that measures them, passing each input on: into `ranges` as the model runs.
LinearInputHook activationRangeObserver(std::shared_ptr<ActivationRanges> ranges);

// The scheme's activations as the consumer quantizes them, on the input of every quantized
// Linear: not the kept modules nor lm_head (pass the other output heads of a model,
// LanguageModel::headModules(), with the kept ones). Per token: int8 abs-max / 127 (NxD, fms-mo) and
// fp8 e4m3 abs-max / 448. Static per tensor, from `ranges`: int8 abs-max / 127.5 with codes in
// [-128, 127] (compressed-tensors' and NxD's symmetric min/max observers; abs-max / 127 with
// codes in [-127, 127] under the fms-mo convention), fp8 e4m3 abs-max / 448. Empty for "none".
// UsageError for an unknown mode, or static ranges missing a module's input.
LinearInputHook fakeQuantizeActivations(
    const QuantScheme& scheme, std::set<std::string> kept, ActivationRanges ranges = {});
// The same with ranges that fill in while the hook is in use (the block runner measures each
// block's ranges just before the evaluation runs it).
LinearInputHook fakeQuantizeActivations(
    const QuantScheme& scheme, std::set<std::string> kept, std::shared_ptr<const ActivationRanges> ranges);

} // namespace qs
