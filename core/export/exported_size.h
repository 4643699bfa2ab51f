// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The bytes an exporter writes for one tensor of the source checkpoint (its tensors' data, file
// headers not counted), quantized with a scheme or kept, without writing anything: what a size
// budget counts. Mirrors the exporters' own output specs.
#include "export/exporter.h"
#include "io/tensor_info.h"
#include "quant/quant_scheme.h"

#include <cstdint>

namespace qs {

// `quantized`: the tensor is a Linear weight the export quantizes with `scheme`; otherwise it is
// copied (compressed-tensors, NxD) or converted (AIU writes every float tensor in float16).
std::uint64_t exportedTensorBytes(ExportFormat format, const QuantScheme& scheme, const TensorInfo& tensor, bool quantized);

} // namespace qs
