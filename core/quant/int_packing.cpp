// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/int_packing.h"

#include "error.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

namespace qs {
namespace {

void checkBits(int bits)
{
    if (bits != 4 && bits != 8)
        throw UsageError("int32 packing supports 4- and 8-bit codes, not " + std::to_string(bits));
}

} // namespace

at::Tensor packToInt32(const at::Tensor& codes, int bits)
{
    checkBits(bits);
    if (codes.dim() != 2 || codes.scalar_type() != at::kChar)
        throw UsageError("packing needs int8 codes of shape [rows, cols]");
    const at::Tensor c = codes.contiguous();
    const std::int64_t rows = c.size(0);
    const std::int64_t cols = c.size(1);
    const std::int64_t perWord = 32 / bits;
    const std::int64_t words = (cols + perWord - 1) / perWord;
    const int offset = 1 << (bits - 1);
    const int mask = (1 << bits) - 1;
    at::Tensor packed = at::zeros({ rows, words }, at::kInt);
    const std::int8_t* in = c.data_ptr<std::int8_t>();
    auto* out = reinterpret_cast<std::uint32_t*>(packed.data_ptr<std::int32_t>());
    std::atomic<bool> outOfRange { false };
    at::parallel_for(0, rows, 64, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int8_t* row = in + r * cols;
            std::uint32_t* dst = out + r * words;
            for (std::int64_t j = 0; j < cols; ++j) {
                const int u = row[j] + offset;
                if (u < 0 || u > mask)
                    outOfRange = true;
                dst[j / perWord] |= static_cast<std::uint32_t>(u & mask) << (bits * (j % perWord));
            }
        }
    });
    if (outOfRange)
        throw UsageError("a code does not fit in " + std::to_string(bits) + " bits");
    return packed;
}

at::Tensor unpackFromInt32(const at::Tensor& packed, int bits, std::int64_t cols)
{
    checkBits(bits);
    if (packed.dim() != 2 || packed.scalar_type() != at::kInt)
        throw UsageError("unpacking needs int32 words of shape [rows, words]");
    const std::int64_t perWord = 32 / bits;
    if (cols < 0 || cols > packed.size(1) * perWord)
        throw UsageError("the packed words hold fewer than " + std::to_string(cols) + " columns");
    const at::Tensor p = packed.contiguous();
    const std::int64_t rows = p.size(0);
    const std::int64_t words = p.size(1);
    const int offset = 1 << (bits - 1);
    const std::uint32_t mask = (1u << bits) - 1;
    at::Tensor codes = at::empty({ rows, cols }, at::kChar);
    const auto* in = reinterpret_cast<const std::uint32_t*>(p.data_ptr<std::int32_t>());
    std::int8_t* out = codes.data_ptr<std::int8_t>();
    at::parallel_for(0, rows, 64, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            for (std::int64_t j = 0; j < cols; ++j) {
                const std::uint32_t u = (in[r * words + j / perWord] >> (bits * (j % perWord))) & mask;
                out[r * cols + j] = static_cast<std::int8_t>(static_cast<int>(u) - offset);
            }
        }
    });
    return codes;
}

} // namespace qs
