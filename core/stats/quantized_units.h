// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to core/stats: the units (tensor, rows, groups) whose scales a SchemeQuantized
// holds, walked the way dequantizeScheme walks them.
#include "dtype.h"
#include "quant/fp8.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>

namespace qs::detail {

// The units the scales describe, as dequantizeScheme walks them.
struct Units
{
    at::Tensor codes; // [rows, cols], contiguous
    at::Tensor scale;
    at::Tensor zero;
    std::int64_t rows = 1;
    std::int64_t cols = 0;
    std::int64_t groupSize = 0;
    std::int64_t groups = 0;
    bool perTensor = true;

    const std::uint8_t* codeData() const { return static_cast<const std::uint8_t*>(codes.data_ptr()); }
    float scaleOf(std::int64_t row, std::int64_t group) const
    {
        return scale.data_ptr<float>()[perTensor ? 0 : row * groups + group];
    }
    float zeroOf(std::int64_t row, std::int64_t group) const
    {
        return zero.defined() ? zero.data_ptr<float>()[perTensor ? 0 : row * groups + group] : 0.0f;
    }
};

inline Units unitsOf(const SchemeQuantized& q)
{
    Units u;
    u.rows = q.scale.dim() == 2 ? q.scale.size(0) : 1;
    u.codes = q.codes.reshape({ u.rows, -1 }).contiguous();
    u.cols = u.codes.size(1);
    u.groupSize = q.scheme.granularity == Granularity::Group ? q.scheme.groupSize : u.cols;
    u.groupSize = std::max<std::int64_t>(u.groupSize, 1);
    u.groups = u.cols > 0 ? (u.cols + u.groupSize - 1) / u.groupSize : 0;
    u.scale = q.scale.to(at::kFloat).contiguous();
    u.zero = q.zeroPoint.defined() ? q.zeroPoint.to(at::kFloat).contiguous() : at::Tensor();
    u.perTensor = u.scale.numel() == 1 && u.scale.dim() == 0;
    return u;
}

inline bool isFp8(const SchemeQuantized& q)
{
    return q.codeType == DType::F8_E4M3 || q.codeType == DType::F8_E5M2;
}

// The value each of the 256 code bytes stands for before scaling.
inline std::array<float, 256> codeValues(const SchemeQuantized& q)
{
    std::array<float, 256> v {};
    const Fp8Format f = q.codeType == DType::F8_E4M3 ? Fp8Format::E4M3 : Fp8Format::E5M2;
    for (int b = 0; b < 256; ++b)
        v[static_cast<std::size_t>(b)]
            = isFp8(q) ? fp8ToFloat(f, static_cast<std::uint8_t>(b)) : static_cast<float>(static_cast<std::int8_t>(b));
    return v;
}

inline float fp8Limit(const SchemeQuantized& q)
{
    return q.codeType == DType::F8_E4M3 ? static_cast<float>(q.scheme.fp8Max) : 57344.0f;
}

} // namespace qs::detail
