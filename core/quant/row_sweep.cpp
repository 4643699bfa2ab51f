// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/row_sweep.h"

#include <cmath>

namespace qs::quant_detail {

using kernels::InputType;

// The input as [rows, cols], channel axis first.
at::Tensor asRows(const at::Tensor& weight, const QuantScheme& scheme)
{
    at::Tensor w = weight;
    if (w.dim() == 0)
        return w.reshape({ 1, 1 });
    if (scheme.granularity == Granularity::Channel && scheme.axis != 0) {
        if (scheme.axis >= w.dim())
            throw UsageError("scheme '" + scheme.name + "': channel axis " + std::to_string(scheme.axis)
                + " does not exist in a " + std::to_string(w.dim()) + "-D tensor");
        w = w.movedim(scheme.axis, 0);
    }
    return w.contiguous().reshape({ w.size(0), w.numel() / std::max<std::int64_t>(w.size(0), 1) });
}

RowSource sourceOf(const at::Tensor& rows)
{
    RowSource s;
    switch (rows.scalar_type()) {
    case at::kFloat:
        s.type = InputType::F32;
        break;
    case at::kDouble:
        s.type = InputType::F64;
        break;
    case at::kHalf:
        s.type = InputType::F16;
        break;
    case at::kBFloat16:
        s.type = InputType::BF16;
        break;
    default:
        throw UsageError(
            std::string("only floating tensors can be quantized, not ") + c10::toString(rows.scalar_type()));
    }
    s.data = static_cast<const std::uint8_t*>(rows.data_ptr());
    s.cols = rows.size(1);
    s.elementSize = rows.element_size();
    return s;
}

UnitStats unitStats(const kernels::RunStats& r, std::int64_t count)
{
    UnitStats s;
    s.min = r.min;
    s.max = r.max;
    s.absMax = r.absMax;
    s.sumAbs = r.sumAbs;
    s.sumSquares = r.sumSquares;
    s.count = count;
    s.finite = r.finite;
    return s;
}

void mergeRun(kernels::RunError& into, const kernels::RunError& e)
{
    into.signalEnergy += e.signalEnergy;
    into.errorEnergy += e.errorEnergy;
    into.reconstructedEnergy += e.reconstructedEnergy;
    into.dot += e.dot;
    into.maxAbsError = std::max(into.maxAbsError, e.maxAbsError);
    into.codeSum += e.codeSum;
    into.codeSumSquares += e.codeSumSquares;
}

// Adds the byte values of data[0..n) to `counts`. Four interleaved tables keep repeated values
// (most codes sit near zero) from serialising on one counter.
void countBytes(const std::uint8_t* data, std::int64_t n, std::array<std::int64_t, 256>& counts)
{
    std::array<std::array<std::uint32_t, 256>, 4> part {};
    std::int64_t j = 0;
    while (j < n) {
        const std::int64_t end = std::min(n, j + (std::int64_t { 1 } << 30)); // no uint32 overflow
        for (; j + 4 <= end; j += 4) {
            ++part[0][data[j]];
            ++part[1][data[j + 1]];
            ++part[2][data[j + 2]];
            ++part[3][data[j + 3]];
        }
        for (; j < end; ++j)
            ++part[0][data[j]];
        for (std::size_t b = 0; b < 256; ++b) {
            counts[b] += static_cast<std::int64_t>(part[0][b]) + part[1][b] + part[2][b] + part[3][b];
            part[0][b] = part[1][b] = part[2][b] = part[3][b] = 0;
        }
    }
}

ErrorMetrics errorOf(const kernels::RunError& total, std::int64_t count)
{
    ErrorAccumulator acc;
    acc.count = count;
    acc.signalEnergy = total.signalEnergy;
    acc.errorEnergy = total.errorEnergy;
    acc.reconstructedEnergy = total.reconstructedEnergy;
    acc.dot = total.dot;
    acc.maxAbsError = total.maxAbsError;
    return acc.finish();
}

float codeStdOf(const kernels::RunError& row, std::int64_t cols)
{
    if (cols <= 1)
        return 0.0f;
    const double var = (row.codeSumSquares - row.codeSum * row.codeSum / cols) / (cols - 1);
    return static_cast<float>(std::sqrt(std::max(0.0, var)));
}

} // namespace qs::quant_detail
