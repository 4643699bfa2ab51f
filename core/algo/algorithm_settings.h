// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The calibration algorithms an export runs before quantizing, as an llm-compressor recipe names
// them: SmoothQuantModifier or AWQModifier, then GPTQModifier (otherwise QuantizationModifier,
// round to nearest).
// Plain data.
#include "algo/smoothquant_mapping.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qs {

struct AlgorithmSettings
{
    std::optional<double> smoothQuant; // smoothing_strength (alpha); unset: no SmoothQuant
    std::vector<SmoothQuantMapping> smoothQuantMappings; // empty: the family's defaults
    std::vector<std::string> smoothQuantIgnore;
    // Rotations fused into the weights before everything else (runtime/rotation.h): "" (none),
    // "hadamard" (randomised Hadamard) or "random" (random orthogonal), from a seed; R2 per head too.
    // They need no calibration data.
    std::string rotation;
    std::uint64_t rotationSeed = 0;
    bool rotationR2 = true;
    bool rotationOnline = false; // the online Hadamard on the down projection's input (eval only)
    // SpinQuant: R1 and R2 learned on the calibration data from the rotation above (hadamard when
    // none is named) before they are fused (runtime/spinquant.h).
    bool spinQuant = false;
    int spinQuantSteps = 100;
    double spinQuantLr = 1.5;
    // AWQ (llm-compressor's AWQ transform, before GPTQ or the round to nearest); mappings empty:
    // the family's defaults.
    bool awq = false;
    std::vector<SmoothQuantMapping> awqMappings;
    std::vector<std::string> awqIgnore;
    std::string awqDuoScaling = "true"; // duo_scaling: true, false, both
    int awqGrid = 20; // n_grid
    // llm-awq's clip search after the scales (n_grid 20, max_shrink 0.5; llm-compressor has none),
    // with round to nearest only (GPTQ chooses its own codes).
    bool awqClip = false;
    bool gptq = false;
    int gptqBlockSize = 128;
    double gptqDampening = 0.01; // dampening_frac
    std::string gptqActOrder = "static"; // static, group, none
    // The calibration samples go on through the quantized layers (llm-compressor's default) or
    // through the float ones.
    bool propagateError = true;

    // The algorithms of the layer-by-layer calibration pass.
    bool any() const { return smoothQuant.has_value() || awq || gptq; }
    // Whether the algorithms need calibration data (SpinQuant learns on it too).
    bool needsData() const { return any() || spinQuant; }
};

} // namespace qs
