// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Measured sensitivity: per Linear module of the layers and per candidate scheme, how much the
// model's loss moves when only that module is quantized (its weight fake-quantized and its input
// quantized as the scheme's consumer does), on the evaluation data. Plain data in and out.
//
// Two modes, both one block-sequential pass (one layer's weights loaded at a time):
// - "exact": every module's perturbed stream runs from its layer to the output, where its
//   logits are scored against the float model's (delta of the mean NLL and KL per token). Its
//   cost grows with modules x layers: for small models and for validating "block".
// - "block" (default): each module's perturbed stream runs through its own layer only, giving
//   the relative error of that layer's output; a probe stream per probed layer (all of the layer's
//   modules quantized together) runs to the output and gives that depth's gain: measured KL per
//   unit of layer-output error. A module's KL is its layer-output error times the gain at its depth
//   (interpolated between probed layers in log space); its NLL change is that KL times the probes'
//   ratio of NLL change to KL (a probe's NLL change alone is too noisy to scale by). Costs about
//   (modules per layer + 1) forwards per layer plus the probes. On stories260K (5 layers, int4)
//   its KL is within a factor 1.3 of "exact" for the top modules.
// Every mode also gives the quick estimate: the module's own output error ||(Q(W) - W) x||^2 on the
// float model's inputs (the Hessian-weighted weight error, H = x^T x, in full), relative to the
// module's own output energy ||W x||^2 (its output noise-to-signal ratio); no extra forward. It
// knows nothing of what follows the module, so it finds broken modules, not the ranking.
#include "runtime/evaluation.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

class Checkpoint;
class Progress;

struct SensitivityRequest
{
    // Data, seqLen, protocol, maxWindows, the scheme (and activation override), memory and spill
    // folder. Algorithms are not run here (round to nearest); keep rules are ignored: every
    // quantizable module of the layers is measured.
    EvaluationRequest evaluation;
    std::vector<QuantScheme> candidates; // empty: evaluation.scheme only
    std::string mode = "block"; // "block" or "exact"
    int probes = 0; // block mode: probed layers (0: every layer up to 8, else 8 spread evenly)
};

struct ModuleSensitivity
{
    std::string name; // "model.layers.3.mlp.down_proj"
    std::string block; // "model.layers.3"
    std::string scheme; // the candidate's preset name
    double deltaLoss = 0; // mean NLL per predicted token, quantized minus float
    double kl = 0; // mean KL(float || quantized) per predicted token
    double blockError = 0; // relative squared error of its layer's output
    double estimate = 0; // the quick estimate (see above)
    bool measured = false; // true: run to the output (exact mode); false: predicted with its layer's gain
};

struct SensitivityProbe
{
    std::string block, scheme;
    double deltaLoss = 0, kl = 0, blockError = 0;
};

struct SensitivityReport
{
    std::string mode;
    double floatMeanNll = 0, floatPerplexity = 0;
    std::int64_t tokens = 0; // predicted tokens
    int windows = 0;
    std::vector<std::string> schemes; // candidates, in order
    std::vector<ModuleSensitivity> modules; // per scheme, per module in model order
    std::vector<SensitivityProbe> probes; // block mode
    double seconds = 0;
    std::uint64_t peakRssBytes = 0;
};

// UsageError without a scheme, for an unknown mode, or a memory limit that cannot hold a layer
// and its quantized copies; FormatError naming the tensor from a layer that fails to load.
// Progress names the layer; cancellation between sequences.
SensitivityReport measureSensitivity(const Checkpoint& checkpoint, const SensitivityRequest& request, Progress& progress);

} // namespace qs
