// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Scalar float <-> bf16/fp16 helpers shared by the kernels and the scalar reference: exact,
// branch-light, and free of libtorch so they vectorise inside the kernels.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace qs::kernels {

inline float bitsToFloat(std::uint32_t u)
{
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline std::uint32_t floatToBits(float f)
{
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// Round half to even for |v| < 2^22 without a libm call: adding 1.5 * 2^23 pushes the fraction
// out of the mantissa. Valid because the project never builds with -ffast-math.
inline float roundHalfEven(float v)
{
    constexpr float kMagic = 12582912.0f;
    return (v + kMagic) - kMagic;
}

// IEEE half -> float, branch-free (exact for normals, subnormals, infinities and NaN).
inline float halfToFloat(std::uint16_t h)
{
    const std::uint32_t w = static_cast<std::uint32_t>(h) << 16;
    const std::uint32_t sign = w & 0x80000000u;
    const std::uint32_t twoW = w + w;
    const float normalized = bitsToFloat((twoW >> 4) + (0xE0u << 23)) * bitsToFloat(0x7800000u); // * 2^-112
    const float denormalized = bitsToFloat((twoW >> 17) | (126u << 23)) - 0.5f;
    const std::uint32_t magnitude = twoW < (1u << 27) ? floatToBits(denormalized) : floatToBits(normalized);
    return bitsToFloat(sign | magnitude);
}

// float -> nearest bf16 (ties to even) -> float, as torch rounds a bf16 result. Finite input.
inline float roundToBf16(float f)
{
    std::uint32_t u = floatToBits(f);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return bitsToFloat(u & 0xFFFF0000u);
}

// float -> nearest IEEE half (ties to even, overflow to infinity) -> float. Finite input.
inline float roundToF16(float f)
{
    const float a = std::fabs(f);
    if (a < 6.103515625e-05f) // half subnormals: multiples of 2^-24
        return roundHalfEven(f * 16777216.0f) * 5.9604644775390625e-08f;
    std::uint32_t u = floatToBits(f);
    u += 0xFFFu + ((u >> 13) & 1u);
    u &= ~0x1FFFu;
    const float r = bitsToFloat(u);
    return std::fabs(r) >= 65536.0f ? std::copysign(INFINITY, f) : r;
}

} // namespace qs::kernels
