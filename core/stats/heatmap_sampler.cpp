// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/heatmap_sampler.h"

#include "error.h"
#include "io/checkpoint.h"
#include "quant/kernels/row_kernels.h"
#include "quant/scheme_quantizer.h"
#include "stats/quantized_units.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <limits>

namespace qs {
namespace {

using kernels::InputType;

InputType inputTypeOf(at::ScalarType t)
{
    switch (t) {
    case at::kDouble:
        return InputType::F64;
    case at::kHalf:
        return InputType::F16;
    case at::kBFloat16:
        return InputType::BF16;
    default:
        return InputType::F32;
    }
}

at::Tensor asMatrix(const at::Tensor& t)
{
    at::Tensor m = t.dim() >= 2 ? t : t.reshape({ 1, -1 });
    m = m.contiguous();
    const at::ScalarType type = m.scalar_type();
    if (type != at::kFloat && type != at::kDouble && type != at::kHalf && type != at::kBFloat16)
        m = m.to(at::kFloat);
    return m.reshape({ m.size(0), m.numel() / std::max<std::int64_t>(m.size(0), 1) });
}

} // namespace

Heatmap sampleHeatmap(
    const at::Tensor& tensor, const HeatmapRequest& request, const SchemeQuantized* q, std::int64_t qRowOffset)
{
    const at::Tensor matrix = asMatrix(tensor);
    Heatmap h;
    h.rows = matrix.size(0);
    h.cols = matrix.size(1);
    h.reduction = request.reduction;
    h.field = request.field;
    h.rowBegin = std::clamp<std::int64_t>(request.rowBegin, 0, h.rows);
    h.rowEnd = request.rowEnd < 0 ? h.rows : std::clamp<std::int64_t>(request.rowEnd, h.rowBegin, h.rows);
    h.colBegin = std::clamp<std::int64_t>(request.colBegin, 0, h.cols);
    h.colEnd = request.colEnd < 0 ? h.cols : std::clamp<std::int64_t>(request.colEnd, h.colBegin, h.cols);
    const std::int64_t windowRows = h.rowEnd - h.rowBegin;
    const std::int64_t windowCols = h.colEnd - h.colBegin;
    if (windowRows == 0 || windowCols == 0)
        return h;
    const bool error = request.field == HeatmapField::Error;
    if (error && !q)
        throw UsageError("the error heatmap needs the tensor's quantization");
    h.blockRows = (windowRows + std::max(request.outRows, 1) - 1) / std::max(request.outRows, 1);
    h.blockCols = (windowCols + std::max(request.outCols, 1) - 1) / std::max(request.outCols, 1);
    h.outRows = static_cast<int>((windowRows + h.blockRows - 1) / h.blockRows);
    h.outCols = static_cast<int>((windowCols + h.blockCols - 1) / h.blockCols);
    h.values.assign(static_cast<std::size_t>(h.outRows) * static_cast<std::size_t>(h.outCols), 0.0f);

    detail::Units units;
    std::array<float, 256> codeValues {};
    if (error) {
        units = detail::unitsOf(*q);
        codeValues = detail::codeValues(*q);
        if (units.perTensor && h.cols > 0 && units.codes.numel() % h.cols == 0) {
            // One scale for the whole tensor: the codes keep the matrix's own rows.
            units.codes = units.codes.reshape({ -1, h.cols });
            units.rows = units.codes.size(0);
            units.cols = h.cols;
            units.groupSize = h.cols;
            units.groups = 1;
        }
        if (units.cols != h.cols || qRowOffset > h.rowBegin || qRowOffset + units.rows < h.rowEnd)
            throw UsageError("the quantized rows do not cover the heatmap's window");
    }
    const InputType type = inputTypeOf(matrix.scalar_type());
    const auto* base = static_cast<const std::uint8_t*>(matrix.data_ptr());
    const std::size_t elementSize = matrix.element_size();
    const kernels::Table& k = kernels::best();
    const bool mean = request.reduction == HeatmapReduction::Mean;

    at::parallel_for(0, h.outRows, 1, [&](std::int64_t begin, std::int64_t end) {
        std::vector<double> sums(static_cast<std::size_t>(h.outCols));
        std::vector<std::int64_t> counts(static_cast<std::size_t>(h.outCols));
        std::vector<float> best(static_cast<std::size_t>(h.outCols));
        std::vector<float> buffer(static_cast<std::size_t>(kernels::kChunk));
        for (std::int64_t outRow = begin; outRow < end; ++outRow) {
            std::fill(sums.begin(), sums.end(), 0.0);
            std::fill(counts.begin(), counts.end(), 0);
            std::fill(best.begin(), best.end(), 0.0f);
            const std::int64_t r0 = h.rowBegin + outRow * h.blockRows;
            const std::int64_t r1 = std::min(h.rowEnd, r0 + h.blockRows);
            for (std::int64_t r = r0; r < r1; ++r) {
                for (std::int64_t c0 = h.colBegin; c0 < h.colEnd; c0 += kernels::kChunk) {
                    const std::int64_t n = std::min(kernels::kChunk, h.colEnd - c0);
                    const float* x = k.toFloat(
                        type, base + static_cast<std::size_t>(r * h.cols + c0) * elementSize, n, buffer.data());
                    for (std::int64_t i = 0; i < n; ++i) {
                        const std::int64_t col = c0 + i;
                        float v = x[i];
                        if (error) {
                            const std::int64_t qr = r - qRowOffset;
                            const std::int64_t g = col / units.groupSize;
                            const std::uint8_t code = units.codeData()[qr * units.cols + col];
                            v -= (codeValues[code] - units.zeroOf(qr, g)) * units.scaleOf(qr, g);
                        }
                        const auto cell = static_cast<std::size_t>((col - h.colBegin) / h.blockCols);
                        if (mean) {
                            sums[cell] += v;
                            ++counts[cell];
                        } else if (std::fabs(v) > std::fabs(best[cell]) || v != v) {
                            best[cell] = v;
                        }
                    }
                }
            }
            float* out = h.values.data() + outRow * h.outCols;
            for (int c = 0; c < h.outCols; ++c) {
                out[c] = mean ? static_cast<float>(sums[static_cast<std::size_t>(c)]
                             / std::max<std::int64_t>(counts[static_cast<std::size_t>(c)], 1))
                              : best[static_cast<std::size_t>(c)];
            }
        }
    });
    h.minValue = std::numeric_limits<float>::infinity();
    h.maxValue = -std::numeric_limits<float>::infinity();
    for (float v : h.values) {
        if (std::isfinite(v)) {
            h.minValue = std::min(h.minValue, v);
            h.maxValue = std::max(h.maxValue, v);
        }
    }
    if (h.minValue > h.maxValue)
        h.minValue = h.maxValue = 0;
    return h;
}

Heatmap reduceMatrix(
    const std::vector<float>& values, std::int64_t rows, std::int64_t cols, const HeatmapRequest& request)
{
    if (rows * cols != static_cast<std::int64_t>(values.size()))
        throw UsageError("the matrix holds " + std::to_string(values.size()) + " values, not " + std::to_string(rows)
            + " x " + std::to_string(cols));
    // A view of the caller's values: sampleHeatmap only reads them.
    const at::Tensor m = at::from_blob(const_cast<float*>(values.data()), { rows, cols }, at::kFloat);
    HeatmapRequest r = request;
    r.field = HeatmapField::Values;
    return sampleHeatmap(m, r);
}

Heatmap heatmapOfTensor(const Checkpoint& checkpoint, const std::string& tensorName, const HeatmapRequest& request,
    const QuantScheme& scheme, CancelToken cancel)
{
    const TensorInfo& info = checkpoint.info(tensorName);
    const bool stored = checkpoint.quantization().recipes.count(tensorName) > 0;
    const bool fp8 = info.dtype == DType::F8_E4M3 || info.dtype == DType::F8_E5M2;
    at::Tensor values = stored || fp8 ? checkpoint.loadDequantized(tensorName) : checkpoint.load(tensorName);
    if (request.transposed && values.dim() == 2)
        values = values.t().contiguous();
    if (request.field != HeatmapField::Error)
        return sampleHeatmap(values, request);
    if (!values.is_floating_point())
        throw UsageError("the error heatmap needs a floating tensor", ErrorContext { info.source, info.name, {} });
    const at::Tensor matrix = asMatrix(values);
    QuantizeOptions options;
    options.errorMetrics = false;
    options.codeHistogram = false;
    options.cancel = cancel;
    const bool perRow
        = (scheme.granularity == Granularity::Channel && scheme.axis == 0) || scheme.granularity == Granularity::Group;
    if (scheme.granularity == Granularity::Channel && scheme.axis != 0)
        throw UsageError(
            "the error heatmap needs per-channel scales along dimension 0, not " + std::to_string(scheme.axis),
            ErrorContext { info.source, info.name, {} });
    if (!perRow || matrix.size(0) <= 1) {
        const SchemeQuantized q = quantizeWithScheme(matrix, scheme, options);
        return sampleHeatmap(matrix, request, &q, 0);
    }
    const std::int64_t r0 = std::clamp<std::int64_t>(request.rowBegin, 0, matrix.size(0));
    const std::int64_t r1
        = request.rowEnd < 0 ? matrix.size(0) : std::clamp<std::int64_t>(request.rowEnd, r0, matrix.size(0));
    const SchemeQuantized q = quantizeWithScheme(matrix.slice(0, r0, std::max(r1, r0 + 1)), scheme, options);
    return sampleHeatmap(matrix, request, &q, r0);
}

Heatmap heatmapOfFirstSlice(const Checkpoint& checkpoint, const std::string& tensorName, const HeatmapRequest& request)
{
    const TensorInfo& info = checkpoint.info(tensorName);
    at::Tensor values = checkpoint.loadDequantized(tensorName).to(at::kFloat);
    if (values.dim() == 2 && request.transposed)
        values = values.t();
    if (values.dim() > 2)
        values = values.reshape({ -1, values.size(-2), values.size(-1) })[0];
    else if (values.dim() < 2)
        values = values.reshape({ 1, -1 });
    const at::Tensor finite = at::isfinite(values);
    if (!finite.all().item<bool>()) {
        if (!finite.any().item<bool>())
            throw UsageError("no finite values to draw", ErrorContext { info.source, info.name, {} });
        values = at::where(finite, values, at::zeros_like(values));
    }
    HeatmapRequest r = request;
    r.field = HeatmapField::Values;
    return sampleHeatmap(values.contiguous(), r);
}

} // namespace qs
