// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to core/stats: a tensor read in float chunks (converted in place for F32, F64, F16,
// BF16; other dtypes converted once), and the equal-width binning that the distribution's
// passes share. F64 values are rounded to float.
#include "jobs/progress.h"
#include "quant/kernels/row_kernels.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace qs::detail {

constexpr std::int64_t kChunk = kernels::kChunk;
constexpr std::int64_t kBlock = 1 << 16; // elements per work unit when rows are not the unit

// The tensor as the passes read it: contiguous, floating values converted per chunk.
struct Source
{
    at::Tensor tensor; // keeps the data alive
    const std::uint8_t* data = nullptr;
    std::size_t elementSize = 4;
    kernels::InputType type = kernels::InputType::F32;
    std::int64_t numel = 0;
    std::int64_t rows = 1;
    std::int64_t cols = 0;

    // Converts [begin, begin + n) (n <= kChunk) to float.
    const float* chunk(std::int64_t begin, std::int64_t n, float* buffer) const
    {
        return kernels::best().toFloat(type, data + static_cast<std::size_t>(begin) * elementSize, n, buffer);
    }
};

inline Source sourceOf(const at::Tensor& values)
{
    Source s;
    at::Tensor t = values.contiguous();
    switch (t.scalar_type()) {
    case at::kFloat:
        s.type = kernels::InputType::F32;
        break;
    case at::kDouble:
        s.type = kernels::InputType::F64;
        break;
    case at::kHalf:
        s.type = kernels::InputType::F16;
        break;
    case at::kBFloat16:
        s.type = kernels::InputType::BF16;
        break;
    default:
        t = t.to(at::kFloat);
        s.type = kernels::InputType::F32;
        break;
    }
    s.tensor = t;
    s.data = static_cast<const std::uint8_t*>(t.data_ptr());
    s.elementSize = t.element_size();
    s.numel = t.numel();
    s.rows = t.dim() >= 2 ? t.size(0) : 1;
    s.cols = s.rows > 0 ? s.numel / s.rows : 0;
    return s;
}

// Bins of equal width over [lo, hi]; the expression is shared by every pass so that they agree.
struct Binner
{
    double lo = 0;
    double hi = 0;
    double scale = 1;
    int bins = 1;

    Binner(double l, double h, int n)
        : lo(l)
        , hi(h)
        , bins(std::max(n, 1))
    {
        if (!(hi > lo)) { // the same widening as HistogramBuilder
            const double pad = std::max(std::fabs(lo) * 1e-3, 1e-6);
            lo -= pad;
            hi += pad;
        }
        scale = bins / (hi - lo);
    }
    // -1 below, bins above (NaN: -2)
    int binOf(float v) const
    {
        if (!(v >= lo)) // NaN lands here too
            return v != v ? -2 : -1;
        if (v > hi)
            return bins;
        const int b = static_cast<int>((v - lo) * scale);
        return b < bins ? b : bins - 1;
    }
};

} // namespace qs::detail
