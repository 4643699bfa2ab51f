// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/dequantize.h"

#include "error.h"
#include "io/checkpoint.h"
#include "io/quantization_info.h"
#include "quant/int_packing.h"

#include <ATen/ATen.h>

#include <limits>

namespace qs {
namespace {

[[noreturn]] void fail(const Checkpoint& c, const std::string& tensor, const std::string& reason)
{
    throw FormatError(reason, ErrorContext { c.path().string(), tensor, {} });
}

// compressed-tensors pack-quantized int32 words back to centred codes, as float.
at::Tensor unpack(const at::Tensor& words, int bits, std::int64_t columns)
{
    return unpackFromInt32(words.to(at::kInt), bits, columns).to(at::kFloat);
}

// `s` shaped to broadcast over an [out, in] weight: scalar, per row, or per group of columns
// (groups of `groupSize` columns, the last one possibly shorter, when the recipe knows it).
at::Tensor broadcastable(const Checkpoint& c, const std::string& name, at::Tensor s, std::int64_t rows,
    std::int64_t columns, std::int64_t groupSize)
{
    if (s.numel() == 1)
        return s.reshape({});
    if (s.dim() == 1 && s.size(0) == rows)
        return s.unsqueeze(1);
    if (s.dim() == 2 && s.size(0) == rows && s.size(1) == 1)
        return s;
    if (s.dim() == 2 && s.size(0) == rows && groupSize > 0 && s.size(1) == (columns + groupSize - 1) / groupSize)
        return s.repeat_interleave(groupSize, 1).narrow(1, 0, columns);
    if (s.dim() == 2 && s.size(0) == rows && s.size(1) > 0 && columns % s.size(1) == 0)
        return s.repeat_interleave(columns / s.size(1), 1);
    fail(c, name,
        "shape " + formatShape(s.sizes().vec()) + " fits neither per-tensor, per-channel nor per-group use for a ["
            + std::to_string(rows) + ", " + std::to_string(columns) + "] weight");
}

// Codes of any rank with one scale and zero point (the nanoGPT fork's biases and stored
// activations). The fork's causal attention scores were -inf above the diagonal, stored as the
// lowest code: they come back as -inf, not as a finite value.
at::Tensor dequantizePerTensor(const Checkpoint& c, const DequantRecipe& r, at::Tensor codes)
{
    const at::Tensor scale = c.loadFloat(r.scale);
    if (scale.numel() != 1)
        fail(c, r.scale,
            "a " + std::to_string(codes.dim()) + "-d tensor of codes needs one scale, not "
                + formatShape(scale.sizes().vec()));
    if (!r.zeroPoint.empty()) {
        const at::Tensor zp = c.loadFloat(r.zeroPoint);
        if (zp.numel() != 1)
            fail(c, r.zeroPoint, "a " + std::to_string(codes.dim()) + "-d tensor of codes needs one zero point");
        codes = codes - zp.reshape({});
    }
    at::Tensor values = codes * (scale.reshape({}) * r.scaleFactor);
    const std::string point = "attn_act_softmax_input";
    if (values.dim() >= 2 && r.weight.size() >= point.size()
        && r.weight.compare(r.weight.size() - point.size(), point.size(), point) == 0) {
        const at::Tensor above = at::ones({ values.size(-2), values.size(-1) }, at::kBool).triu(1);
        values = values.masked_fill(above, -std::numeric_limits<float>::infinity());
    }
    return values;
}

} // namespace

at::Tensor dequantizeWeight(const Checkpoint& c, const DequantRecipe& r)
{
    at::Tensor codes;
    if (r.packedBits) {
        if (r.packedBits != 4 && r.packedBits != 8)
            fail(c, r.weight, std::to_string(r.packedBits) + "-bit packing is not supported (4 and 8 are)");
        const at::Tensor words = c.load(r.weight);
        if (words.dim() != 2)
            fail(c, r.weight, "packed weights must be 2-D int32");
        std::int64_t columns = words.size(1) * (32 / r.packedBits);
        if (!r.shape.empty()) {
            const at::Tensor shape = c.load(r.shape).to(at::kLong);
            if (shape.numel() != 2 || shape[0].item<std::int64_t>() != words.size(0)
                || shape[1].item<std::int64_t>() > columns || shape[1].item<std::int64_t>() <= 0)
                fail(c, r.shape, "does not match the packed weight " + formatShape(words.sizes().vec()));
            columns = shape[1].item<std::int64_t>();
        }
        if (!r.zeroPoint.empty())
            fail(c, r.zeroPoint, "asymmetric pack-quantized weights (packed zero points) are not dequantized yet");
        codes = unpack(words, r.packedBits, columns);
    } else {
        codes = c.loadFloat(r.weight);
    }
    if (codes.dim() != 2 && !r.packedBits)
        return dequantizePerTensor(c, r, codes);
    if (codes.dim() != 2)
        fail(c, r.weight, "quantized weights must be 2-D, this one is " + formatShape(codes.sizes().vec()));
    const std::int64_t rows = codes.size(0);
    const std::int64_t columns = codes.size(1);
    if (!r.zeroPoint.empty())
        codes = codes - broadcastable(c, r.zeroPoint, c.loadFloat(r.zeroPoint), rows, columns, r.groupSize);
    at::Tensor scale = c.loadFloat(r.scale);
    if (r.scaleFactor != 1.0)
        scale = scale * r.scaleFactor;
    at::Tensor values = codes * broadcastable(c, r.scale, scale, rows, columns, r.groupSize);
    if (!r.smoothScale.empty()) {
        const at::Tensor s = c.loadFloat(r.smoothScale);
        if (s.numel() != columns)
            fail(c, r.smoothScale,
                "has " + std::to_string(s.numel()) + " values for " + std::to_string(columns) + " inputs");
        values = values / s.reshape({ 1, columns });
    }
    return values;
}

} // namespace qs
