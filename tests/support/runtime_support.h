// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Helpers of the runtime and calibration tests: tensors as test-file values, random token ids and
// windows, the logits a runner's head produces, a module's own error in an evaluation report.
#include "jobs/progress.h"
#include "runtime/block_runner.h"
#include "runtime/evaluation.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qs::test {

std::vector<float> values(const at::Tensor& t); // float32, row-major
std::vector<std::int64_t> shapeOf(const at::Tensor& t);

// `n` ids in [0, vocab) from `seed`; `count` windows of `length` such ids (seeds seed, seed + 1, ...).
std::vector<std::int64_t> randomIds(std::size_t n, std::int64_t vocab, unsigned seed);
std::vector<std::vector<std::int64_t>> randomWindows(int count, std::size_t length, unsigned seed,
    std::int64_t vocab = 96);

// max |a - b| / max |b|.
double relativeDifference(const at::Tensor& a, const at::Tensor& b);

// The logits of every row of every sequence, from a runner that has run and whose streams on
// those sequences go to the head.
std::vector<at::Tensor> runnerLogits(BlockRunner& runner, const std::vector<std::vector<std::int64_t>>& sequences,
    std::int64_t vocab, Progress& progress);

// A module's own relative output error in a report; -1 when absent.
double ownError(const EvaluationReport& report, const std::string& module);

} // namespace qs::test
