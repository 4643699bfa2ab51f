// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/fp8.h"

#include <array>
#include <cmath>
#include <limits>

namespace qs {
namespace {

float decode(Fp8Format format, std::uint8_t code)
{
    const int mantissaBits = format == Fp8Format::E4M3 ? 3 : 2;
    const int exponentBits = 7 - mantissaBits;
    const int bias = format == Fp8Format::E4M3 ? 7 : 15;
    const bool negative = code & 0x80;
    const int exponent = (code >> mantissaBits) & ((1 << exponentBits) - 1);
    const int mantissa = code & ((1 << mantissaBits) - 1);
    float value;
    if (format == Fp8Format::E4M3 && exponent == 15 && mantissa == 7)
        value = std::numeric_limits<float>::quiet_NaN();
    else if (format == Fp8Format::E5M2 && exponent == 31)
        value = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
    else if (exponent == 0)
        value = std::ldexp(static_cast<float>(mantissa), 1 - bias - mantissaBits);
    else
        value = std::ldexp(static_cast<float>(mantissa + (1 << mantissaBits)), exponent - bias - mantissaBits);
    return negative ? -value : value;
}

struct Tables
{
    std::array<float, 256> e4m3;
    std::array<float, 256> e5m2;
    Tables()
    {
        for (int i = 0; i < 256; ++i) {
            e4m3[i] = decode(Fp8Format::E4M3, static_cast<std::uint8_t>(i));
            e5m2[i] = decode(Fp8Format::E5M2, static_cast<std::uint8_t>(i));
        }
    }
};

const Tables& tables()
{
    static const Tables t;
    return t;
}

} // namespace

float fp8ToFloat(Fp8Format format, std::uint8_t code)
{
    return format == Fp8Format::E4M3 ? tables().e4m3[code] : tables().e5m2[code];
}

void decodeFp8(Fp8Format format, const std::uint8_t* codes, std::size_t count, float* out)
{
    const auto& table = format == Fp8Format::E4M3 ? tables().e4m3 : tables().e5m2;
    for (std::size_t i = 0; i < count; ++i)
        out[i] = table[codes[i]];
}

std::uint8_t floatToFp8(Fp8Format format, float value)
{
    const auto& table = format == Fp8Format::E4M3 ? tables().e4m3 : tables().e5m2;
    if (std::isnan(value))
        return 0x7F; // E4M3's only NaN, and one of E5M2's
    const std::uint8_t sign = std::signbit(value) ? 0x80 : 0x00;
    const float magnitude = std::fabs(value);
    // Positive codes 0..maxCode are increasing; binary search for the nearest, ties to even code.
    const int maxCode = format == Fp8Format::E4M3 ? 0x7E : 0x7B;
    if (magnitude >= table[maxCode])
        return static_cast<std::uint8_t>(sign | maxCode);
    int lo = 0, hi = maxCode;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        (table[mid] <= magnitude ? lo : hi) = mid;
    }
    const float dLo = magnitude - table[lo];
    const float dHi = table[hi] - magnitude;
    const int code = dLo < dHi ? lo : dHi < dLo ? hi : (lo % 2 == 0 ? lo : hi);
    return static_cast<std::uint8_t>(sign | code);
}

} // namespace qs
