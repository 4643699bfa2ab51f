// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Calibration: the model run on sample windows of the data while every capture point is
// recorded (ActivationCapture). What `quantscope-cli calibrate` and the GUI's capture run.
#include "runtime/activation_stats.h"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace qs {

class Checkpoint;
class Progress;

struct CalibrationRequest
{
    std::filesystem::path data; // see loadEvalTokens
    int seqLen = 256; // tokens per sample window
    int samples = 16; // windows (disjoint; fewer when the data is short)
    std::uint64_t seed = 0; // 0: the first windows in order; otherwise shuffled with this seed
    bool namedPoints = true; // the twelve points per layer besides the Linear inputs
    std::int64_t sampleRows = 256;
    int histogramBins = 2048;
    std::uint64_t maxMemory = 0; // the block runner's limit (0: what the machine can spare)
};

struct CalibrationResult
{
    std::vector<ActivationStats> points;
    std::int64_t tokens = 0;
    int windows = 0;
    std::string modelType;
};

// Runs on the block runner (one layer's weights at a time); progress names the block,
// cancellation stops within a block. Data shorter than one window is one
// shorter window; UsageError when it holds no token.
CalibrationResult calibrate(const Checkpoint& checkpoint, const CalibrationRequest& request, Progress& progress);

} // namespace qs
