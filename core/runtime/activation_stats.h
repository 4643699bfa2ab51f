// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What calibration records at one capture point (the input of a Linear module, or one of the
// named points inside attention and MLP): streaming per-channel statistics, fms-mo's per-token
// max, a histogram and a bounded sample of raw values. Plain data (no libtorch).
#include "stats/histogram.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

struct ActivationStats
{
    std::string point; // "model.layers.0.self_attn.q_proj" (a Linear's input) or "model.layers.0.attention.q"
    std::string kind; // "linear_input" or the named point ("attention.q", "mlp.activation_input", ...)
    std::int64_t tokens = 0; // rows seen
    std::int64_t channels = 0; // the last dimension; 0 when it varies (attention scores)
    // Per channel (empty when channels == 0):
    std::vector<float> min;
    std::vector<float> max;
    std::vector<float> absMax; // SmoothQuant's act_scales
    std::vector<float> mean;
    std::vector<float> sqMean; // mean of squares
    // Per token: max |x| over the channels (fms-mo's pertokenmax), in the order seen, at most
    // ActivationCaptureOptions::maxTokens of them.
    std::vector<float> tokenMax;
    double globalMin = 0;
    double globalMax = 0;
    Histogram histogram; // symmetric range, widened as larger values arrive
    // The first rows seen, [sampleRows, channels] row-major (for heatmaps).
    std::int64_t sampleRows = 0;
    std::vector<float> sample;
};

} // namespace qs
