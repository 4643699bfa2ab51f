// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// SpinQuant (Liu et al. 2024): the rotations R1 (residual stream) and R2 (per attention head) of a
// rotated Llama-group model learned on calibration data instead of drawn at random. The loss is the
// next-token cross-entropy of the quantized model: every Linear weight fake-quantized with the
// scheme (unless GPTQ follows: then weights stay float while learning, SpinQuant's W16 setting),
// its input with the scheme's dynamic activations, both with straight-through gradients, and the
// online Hadamard on the down projection's input when asked. R1 and R2 start from the randomised
// Hadamard (or random) rotation of the seed and move by Cayley SGD (algo/cayley.h), so they stay
// orthogonal and the float model's function never changes; the result is fused into the weights
// by rotateCheckpoint.
//
// Memory stays bounded as on the block runner: per step the step's samples run forward layer by
// layer (one layer's weights loaded at a time, only each layer's input kept), the head gives the
// loss and its gradient, then the layers run again from the last to the first, each recomputed
// with its graph and differentiated on its own (gradient checkpointing per layer). What it holds:
// the layer inputs of the step's tokens for every layer, one layer's weights and graph, a chunk of
// the head. What it cannot make small is time: a step costs about four forward passes of the model
// over the step's tokens.
#include "algo/algorithm_settings.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "quant/quant_scheme.h"
#include "runtime/rotation.h"
#include "runtime/spinquant_report.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qs {

struct SpinQuantSettings
{
    int steps = 100; // the fork's and SpinQuant's default
    double lr = 1.5; // likewise
    RotationKind start = RotationKind::Hadamard; // the rotation it starts from, drawn from `seed`
    std::uint64_t seed = 0;
    bool r2 = true; // learn R2 per layer too
    bool online = false; // the fixed online Hadamard on down_proj's input (R4) in the loss
    // What the loss quantizes: the weights (unless quantizeWeights is false) and the scheme's
    // dynamic activations; unset: nothing (the float model: R has no effect and learning is moot).
    std::optional<QuantScheme> scheme;
    bool quantizeWeights = true;
    std::set<std::string> kept; // modules left in full precision
    // Non-empty: only these modules are quantized (an export's list), whatever `kept` says.
    std::set<std::string> quantized;
    std::map<std::string, QuantScheme> moduleSchemes;
    // Samples per step; 0: ceil(samples / steps), SpinQuant's 800 samples over 100 steps of 8.
    int batch = 0;
    std::uint64_t maxMemory = 0; // resident bytes it may plan for; 0: defaultMemoryLimit()
};


// The settings an llm-compressor-style AlgorithmSettings gives (steps, learning rate, start
// rotation and seed, R2, online R4, weights float in the loss when GPTQ follows); the scheme, the
// modules and the memory limit are the caller's.
SpinQuantSettings spinQuantSettings(const AlgorithmSettings& algorithms);

// Progress: one step per SpinQuant step (the current text: "step 3/100: loss 4.21"), plus the two
// evaluations of all samples; cancellation between layers. UsageError before any work for a family
// other than the Llama group, tied embeddings, no samples, static activations (their scales are
// measured after the rotation) or a plan beyond the memory limit (the message says what the model
// needs at these samples and what would fit); FormatError naming a tensor the layout lacks.
LearnedRotations learnRotations(const Checkpoint& checkpoint, const std::vector<std::vector<std::int64_t>>& samples,
    const SpinQuantSettings& settings, Progress& progress, SpinQuantReport& report);

} // namespace qs
