// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/calibration.h"

#include "error.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "models/block.h"
#include "models/model_config.h"
#include "runtime/activation_capture.h"
#include "runtime/block_runner.h"
#include "runtime/eval_data.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace qs {

CalibrationResult calibrate(const Checkpoint& checkpoint, const CalibrationRequest& request, Progress& progress)
{
    const ModelConfig config = modelConfigFromJson(checkpoint.config());
    if (request.seqLen < 1 || request.seqLen > config.maxPositions)
        throw UsageError("sequence length " + std::to_string(request.seqLen) + " is outside 1.."
            + std::to_string(config.maxPositions));
    if (request.samples < 1)
        throw UsageError("calibration needs at least one sample");
    const std::unique_ptr<ModelBlocks> blocks = ModelBlocks::open(checkpoint, config);
    const std::vector<std::int64_t> ids = loadEvalTokens(request.data, checkpoint, config.vocabSize);
    if (ids.empty())
        throw UsageError("the calibration data holds no tokens");
    // Data shorter than one window is one shorter window.
    const std::int64_t length = std::min<std::int64_t>(request.seqLen, static_cast<std::int64_t>(ids.size()));
    const std::int64_t available = static_cast<std::int64_t>(ids.size()) / length;
    std::vector<std::int64_t> order(static_cast<std::size_t>(available));
    std::iota(order.begin(), order.end(), 0);
    if (request.seed != 0) {
        std::mt19937_64 rng(request.seed);
        std::shuffle(order.begin(), order.end(), rng);
    }
    order.resize(std::min<std::size_t>(order.size(), static_cast<std::size_t>(request.samples)));

    ActivationCaptureOptions options;
    options.sampleRows = request.sampleRows;
    options.histogramBins = request.histogramBins;
    ActivationCapture capture(options);
    CalibrationResult result;
    result.modelType = config.modelType;
    std::vector<std::vector<std::int64_t>> windows, rows;
    for (std::int64_t w : order) {
        const auto begin = ids.begin() + w * length;
        windows.emplace_back(begin, begin + length);
        rows.emplace_back(); // the head's input is captured; no logits are needed
        result.tokens += length;
        ++result.windows;
    }
    BlockRunOptions runOptions;
    runOptions.maxMemory = request.maxMemory;
    BlockRunner runner(*blocks, runOptions);
    const BlockHooks hooks { capture.linearInputHook(), request.namedPoints ? capture.observer() : ActivationObserver(),
        {} };
    runner.addStream({ runner.addWeights(), runner.addSequences(std::move(windows)), hooks, -1, true, nullptr });
    runner.run(progress);
    runner.runHead(rows, {}, progress);
    result.points = capture.results();
    return result;
}

} // namespace qs
