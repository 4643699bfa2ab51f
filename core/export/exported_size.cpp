// SPDX-License-Identifier: GPL-3.0-or-later
#include "export/exported_size.h"

#include "dtype.h"

#include <algorithm>

namespace qs {

std::uint64_t exportedTensorBytes(ExportFormat format, const QuantScheme& s, const TensorInfo& t, bool quantized)
{
    const auto numel = static_cast<std::uint64_t>(std::max<std::int64_t>(t.numel(), 0));
    const bool isFloat = t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16 || t.dtype == DType::F64;
    if (!quantized) {
        if (format == ExportFormat::Aiu && isFloat)
            return numel * 2;
        return numel * dtypeSize(t.dtype);
    }
    const auto rows = static_cast<std::uint64_t>(t.shape.empty() ? 1 : t.shape.at(0));
    const std::uint64_t cols = rows > 0 ? numel / rows : 0;
    const bool staticInputs = isStaticActivations(s.activations);
    switch (format) {
    case ExportFormat::Nxd: {
        const std::uint64_t scales = s.granularity == Granularity::Tensor ? 1 : rows;
        return numel + scales * 4 + (staticInputs ? 4 : 0);
    }
    case ExportFormat::Aiu: {
        const std::uint64_t clips = s.granularity == Granularity::Tensor ? 1 : rows;
        return numel + 2 * clips * 2;
    }
    case ExportFormat::CompressedTensors:
    default: {
        // Scales in the weight's float type (float16 otherwise).
        const std::uint64_t scaleSize = isFloat ? dtypeSize(t.dtype) : 2;
        std::uint64_t scales = rows;
        if (s.granularity == Granularity::Tensor)
            scales = 1;
        else if (s.granularity == Granularity::Group && s.groupSize > 0)
            scales = rows * ((cols + static_cast<std::uint64_t>(s.groupSize) - 1) / static_cast<std::uint64_t>(s.groupSize));
        // Int weights without quantized activations are pack-quantized (vLLM's WNA16 path).
        const bool packed = s.format == QuantFormat::Int && s.activations != "int8-token-dynamic"
            && s.activations != "fp8-token-dynamic" && !staticInputs;
        if (packed) {
            const std::uint64_t words = (cols * static_cast<std::uint64_t>(s.bits) + 31) / 32;
            return rows * words * 4 + scales * scaleSize + 16;
        }
        return numel + scales * scaleSize + (staticInputs ? scaleSize : 0) + (s.symmetric ? 0 : scales);
    }
    }
}

} // namespace qs
