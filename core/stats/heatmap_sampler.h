// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Weight matrices reduced to the screen: a window of the [rows, cols] view of a tensor, each
// output cell the abs-max or mean of a block, optionally of the quantization error.
#include "jobs/progress.h"
#include "stats/tensor_statistics.h"

#include <string>
#include <vector>

namespace at {
class Tensor;
}

namespace qs {

class Checkpoint;
struct QuantScheme;
struct SchemeQuantized;

struct HeatmapRequest
{
    std::int64_t rowBegin = 0;
    std::int64_t rowEnd = -1; // -1: to the end
    std::int64_t colBegin = 0;
    std::int64_t colEnd = -1;
    int outRows = 512; // at most; blocks are whole numbers of elements
    int outCols = 512;
    HeatmapReduction reduction = HeatmapReduction::AbsMax;
    HeatmapField field = HeatmapField::Values;
    // heatmapOfTensor: draw the 2-D tensor transposed (a Conv1D weight, stored [in, out], as the
    // Linear [out, in] it is: rows are output channels).
    bool transposed = false;
};

// `matrix`: any floating tensor, seen as [size(0), numel / size(0)] (a 1-D tensor is one row).
// For HeatmapField::Error, `q` holds the quantization of rows [qRowOffset, qRowOffset +
// its rows) of that view, which must cover the window. Blocks are ceil(window / out) elements
// on each side; the window is clamped to the matrix. Parallel over output rows.
Heatmap sampleHeatmap(const at::Tensor& matrix, const HeatmapRequest& request, const SchemeQuantized* q = nullptr,
    std::int64_t qRowOffset = 0);

// The same reduction of a plain row-major float matrix (an activation sample).
Heatmap reduceMatrix(
    const std::vector<float>& values, std::int64_t rows, std::int64_t cols, const HeatmapRequest& request);

// Loads one tensor (dequantized when stored quantized) and samples it. The error field
// quantizes only the window's rows when the scheme's scales are per row (channel, group),
// the whole tensor otherwise. Throws UsageError when the error is asked of a tensor that is
// not floating, or a FormatError naming the tensor.
Heatmap heatmapOfTensor(const Checkpoint& checkpoint, const std::string& tensorName, const HeatmapRequest& request,
    const QuantScheme& scheme, CancelToken cancel = {});

// visualize.py's matrix: the first 2-D slice of the tensor (dequantized when stored quantized),
// [..., rows, cols] -> rows x cols (batch 0, head 0 of an activation); a 2-D tensor whole, a 1-D
// one as one row. Non-finite values (the causal scores' masked -inf) are drawn as 0, the
// blank middle of a diverging scale.
Heatmap heatmapOfFirstSlice(const Checkpoint& checkpoint, const std::string& tensorName, const HeatmapRequest& request);

} // namespace qs
