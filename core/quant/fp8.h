// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>

namespace qs {

// The two 8-bit float formats of safetensors F8_E4M3 / F8_E5M2 (PyTorch float8_e4m3fn and
// float8_e5m2). E4M3FN: bias 7, no infinities, S.1111.111 is NaN, largest finite 448.
// E5M2: bias 15, IEEE-style infinities and NaNs, largest finite 57344.
enum class Fp8Format
{
    E4M3,
    E5M2,
};

float fp8ToFloat(Fp8Format format, std::uint8_t code);
void decodeFp8(Fp8Format format, const std::uint8_t* codes, std::size_t count, float* out);

// Round to nearest even, saturating to the largest finite value (as vLLM and NxD clamp
// before casting); NaN stays NaN.
std::uint8_t floatToFp8(Fp8Format format, float value);

} // namespace qs
