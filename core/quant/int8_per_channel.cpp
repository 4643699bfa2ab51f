// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/int8_per_channel.h"

#include "error.h"
#include "quant/quant_scheme.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>

namespace qs {

QuantizedTensor quantizeInt8PerChannelNxd(const at::Tensor& weight, ErrorMetrics* metrics)
{
    if (weight.dim() < 1)
        throw UsageError("per-channel quantization needs a tensor with at least one dimension");
    if (!at::isFloatingType(weight.scalar_type()))
        throw UsageError(std::string("cannot quantize a tensor of type ") + c10::toString(weight.scalar_type())
            + "; expected a floating-point weight");
    static const QuantScheme nxd = *findSchemePreset("nxd-int8");
    QuantizeOptions options;
    options.errorMetrics = metrics != nullptr;
    options.codeHistogram = false;
    SchemeQuantized q = quantizeWithScheme(weight, nxd, options);
    if (metrics)
        *metrics = q.error;
    return { q.codes, q.scale.reshape({ -1, 1 }) };
}

at::Tensor dequantizeInt8PerChannel(const QuantizedTensor& q)
{
    const auto rows = q.codes.size(0);
    return (q.codes.to(at::kFloat).reshape({ rows, -1 }) * q.scale).reshape(q.codes.sizes());
}

} // namespace qs
