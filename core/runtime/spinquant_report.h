// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What SpinQuant's rotation learning did (runtime/spinquant.h). Plain data.
#include <cstdint>
#include <string>
#include <vector>

namespace qs {

struct SpinQuantReport
{
    int steps = 0;
    double lr = 0;
    int samples = 0;
    int batch = 0; // samples per step
    std::int64_t tokens = 0; // in all samples
    std::vector<double> losses; // per step, the step's samples before its update
    std::vector<double> stepSizes; // the Cayley step R1 took (bounded by 1 / ||A||_1)
    double initialLoss = 0; // on all samples, the start rotation
    double finalLoss = 0; // on all samples, the learned rotation
    // The learned rotation's loss on all samples was above the start's: the start is the result.
    bool keptStart = false;
    bool weightsQuantized = false; // in the loss
    std::string activations; // the activation quantization in the loss ("none": float)
    std::uint64_t plannedBytes = 0; // what it estimated it needs
    double seconds = 0;
    double secondsPerStep = 0;
};

} // namespace qs
