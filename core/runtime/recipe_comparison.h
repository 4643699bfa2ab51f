// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Which calibration recipe wins for this model: the same evaluation (data, windows, scheme,
// calibration samples) run once per candidate recipe (round to nearest, GPTQ, AWQ, AWQ + GPTQ,
// Hadamard rotation + GPTQ, ...), each with its perplexity, KL divergence and top-1 agreement
// against the float model, its time and its peak memory. One job; a candidate that cannot run
// with this scheme (AWQ with quantized activations, say) gets its error and the others go on.
#include "algo/algorithm_settings.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "runtime/evaluation.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

struct RecipeCandidate
{
    std::string name; // "awq+gptq"
    AlgorithmSettings algorithms;
};

// "rtn,gptq,awq,awq+gptq,hadamard+gptq,spinquant+gptq": each candidate a '+' list of rtn, gptq, awq, smoothquant
// (at `smoothQuantAlpha`), hadamard, random (rotations), online (with a rotation: the online
// Hadamard on the down projection's input). UsageError naming an unknown step or a
// candidate that asks for two of rotation, SmoothQuant/AWQ.
std::vector<RecipeCandidate> parseRecipeCandidates(const std::string& list, double smoothQuantAlpha = 0.8);
const char* defaultRecipeCandidates(); // "rtn,gptq,awq,awq+gptq,hadamard+gptq,spinquant+gptq"

struct RecipeComparisonRow
{
    std::string name;
    EvaluationReport report; // when it ran
    std::string error; // why it could not run
    double seconds = 0;
    std::uint64_t peakRssBytes = 0; // this candidate's own peak (where the system can reset it)
};

// `base` gives everything but the algorithms (its own algorithm fields are replaced by each
// candidate's; GPTQ's block size, dampening and order and AWQ's options are kept). Progress: one
// step per candidate; cancellation stops the comparison.
std::vector<RecipeComparisonRow> compareRecipes(const Checkpoint& checkpoint, const EvaluationRequest& base,
    const std::vector<RecipeCandidate>& candidates, Progress& progress);

} // namespace qs
