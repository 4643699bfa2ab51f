// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The nanoGPT quantization fork's weight quantizers (quantization/quantize.py: per tensor,
// codes always signed) and which of them, with how many bits, produced a stored tensor of
// codes. Plain data out; libtorch only in the .cpp.
#include <cstdint>
#include <string>

namespace qs {

class Checkpoint;

struct ForkSchemeGuess
{
    // symmetric_quant, affine_quant, stochastic_quant, ternary_quant; empty when unknown.
    std::string method;
    int bits = 0;
    // How it was told: recomputed from the float weight (and how many codes agree), or read
    // off the codes alone (their range and zero point), with any ambiguity said.
    std::string basis;
    bool verified = false; // recomputing from the float weight gave the stored codes
    // Codes for which q - zero_point leaves the codes' own integer type: the fork's dequantize()
    // subtracts in that type (torch keeps int8 for int8 - 0-d int64) and wraps them around;
    // QuantScope does not. Only affine codes with a zero point have any.
    std::int64_t wrappedCodes = 0;

    // "symmetric_quant 8-bit, per tensor", or "unknown".
    std::string describe() const;
};

// `codesTensor` is a recipe of the checkpoint's nanogpt-fork quantization (its
// quantized_weight, quantized_bias or a stored activation). The float tensor beside it, when
// the checkpoint has one, is re-quantized with each candidate and compared code by code.
// Throws UsageError for a tensor that is not stored fork codes.
ForkSchemeGuess inferForkScheme(const Checkpoint& checkpoint, const std::string& codesTensor);

} // namespace qs
