// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <vector>

namespace at {
class Tensor;
}

namespace qs {

// compressed-tensors `pack_to_int32` for 4- and 8-bit codes: each signed code gets the offset
// 2^(bits-1) (so it is unsigned), element c of a row goes to bit c*bits of the row's
// little-endian bit stream, and rows are padded with zeros to a whole number of int32 words.
// `codes` is int8 [rows, cols] holding values in [-2^(bits-1), 2^(bits-1) - 1]; the result is
// int32 [rows, ceil(cols * bits / 32)]. Throws UsageError for other bit widths or out-of-range codes.
at::Tensor packToInt32(const at::Tensor& codes, int bits);

// The inverse: int8 [rows, cols] codes from packed words (the padding is dropped).
at::Tensor unpackFromInt32(const at::Tensor& packed, int bits, std::int64_t cols);

} // namespace qs
