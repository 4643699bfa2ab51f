// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Streaming activation statistics during forward passes (calibration): per capture point,
// per-channel min/max/abs-max/mean/mean-square, the per-token max, a histogram whose symmetric
// range doubles as larger values arrive, and the first rows as a sample.
#include "models/language_model.h"
#include "runtime/activation_stats.h"

#include <map>

namespace qs {

struct ActivationCaptureOptions
{
    int histogramBins = 2048; // a multiple of 4
    std::int64_t maxTokenMax = 1 << 20; // per-token maxima kept per point
    std::int64_t sampleRows = 256; // raw rows kept per point
};

class ActivationCapture
{
public:
    explicit ActivationCapture(ActivationCaptureOptions options = {});

    // Records `x` at `point`. With `perChannel` the last dimension is the channel and the rest
    // are tokens; otherwise `x` is a bag of values (attention scores) with no channels.
    void record(const std::string& point, const std::string& kind, const at::Tensor& x, bool perChannel = true);

    // Hooks for LanguageModel::forward: the first observes each Linear's input and passes it on.
    LinearInputHook linearInputHook();
    ActivationObserver observer();

    // The points in the order they were first seen.
    std::vector<ActivationStats> results() const;

private:
    struct Point
    {
        ActivationStats stats;
        at::Tensor min, max, absMax, sum, sumSquares; // [channels], float64 sums
        double range = 0; // the histogram's half-width
        std::vector<std::int64_t> counts;
    };
    void addToHistogram(Point& p, const at::Tensor& values);

    ActivationCaptureOptions m_options;
    std::vector<Point> m_points;
    std::map<std::string, std::size_t> m_index;
};

} // namespace qs
