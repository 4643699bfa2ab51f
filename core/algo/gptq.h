// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// GPTQ (Frantar et al. 2022) for one Linear weight, as llm-compressor's GPTQModifier computes it:
// the Hessian H = (2 / sequences) * sum over every token of x x^T (float32) of the module's
// input, dampening * mean(diag H) added to the diagonal, dead inputs (diag 0) set to 1 with
// their weight column zeroed, columns in blocks of 128 with the error of each quantized column
// spread over the columns not yet quantized through the upper Cholesky factor of H^-1. Scales and
// zero points come once from the original weight by the scheme's own quantizer (llm-compressor's
// static groups); the reference GPTQ's per-group recomputation on the updated weight is an option.
#include "jobs/progress.h"
#include "quant/quant_scheme.h"
#include "quant/scheme_quantizer.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace qs {

// The activation order: `Static` (llm-compressor's default, alias "weight") visits the columns
// by descending diag(H), each keeping its original group's scale; `Group` (alias "dynamic")
// visits them in that order with groups contiguous in the permuted order (then the export needs
// g_idx); `None` in storage order.
enum class GptqActOrder : std::uint8_t
{
    Static,
    Group,
    None,
};

const char* gptqActOrderName(GptqActOrder order); // "static", "group", "none"
// "static"/"weight", "group"/"dynamic", "none"; UsageError naming the values otherwise.
GptqActOrder gptqActOrderFromName(const std::string& name);

struct GptqOptions
{
    int blockSize = 128;
    double dampening = 0.01; // fraction of mean(diag H)
    GptqActOrder actOrder = GptqActOrder::Static;
    // true (llm-compressor): scales from the original weight, once. false (the reference GPTQ):
    // each group's scales from the partly updated weight when the loop reaches its first column.
    bool staticGroups = true;
    // After a failed Cholesky: retry with the dampening grown by this much while it stays below
    // 1 (GPTQModel); 0: fall back to round-to-nearest at once (llm-compressor).
    double dampeningIncrement = 0;
    CancelToken cancel; // polled between blocks of columns
};

// Accumulates a module's Hessian from its inputs, as llm-compressor's hook does.
class HessianAccumulator
{
public:
    explicit HessianAccumulator(std::int64_t features);
    // One sequence's inputs [tokens, features] (any float type).
    void add(const at::Tensor& input);
    std::int64_t sequences() const { return m_sequences; }
    // H / sequences: (2 / sequences) sum x x^T. UsageError when nothing was added.
    at::Tensor hessian() const;

private:
    at::Tensor m_sum; // sum of 2 x x^T, float32 [features, features]
    std::int64_t m_sequences = 0;
};

struct GptqResult
{
    at::Tensor weight; // the fake-quantized weight, float32 [out, in]
    SchemeQuantized quantized; // its codes and the scales they use
    at::Tensor groupIndex; // actOrder Group: the group of each input column [in] (int32), else undefined
    double loss = 0; // sum (w - q)^2 / Hinv_ii^2 / 2, as llm-compressor logs it
    bool roundToNearest = false; // the Cholesky factorisation failed: the module is RTN
    double dampening = 0; // the dampening that was used
    std::string warning;
};

// UsageError unless GPTQ can quantize with the scheme (see gptqQuantize).
void checkGptqScheme(const QuantScheme& scheme);

// `weight` [out, in] (any float type) and `hessian` [in, in] float32 from a HessianAccumulator.
// Int formats with Tensor, Channel or Group granularity, symmetric or not, round to nearest;
// UsageError for other schemes (fp8, ternary, stochastic rounding) or mismatched shapes.
GptqResult gptqQuantize(
    const at::Tensor& weight, const at::Tensor& hessian, const QuantScheme& scheme, const GptqOptions& options = {});

} // namespace qs
