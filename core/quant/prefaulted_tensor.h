// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "quant/output_cache.h"

#include <ATen/core/Tensor.h>

#include <cstddef>

namespace qs {

// An uninitialised CPU tensor whose memory is mapped before it is returned: large ones get
// transparent huge pages where the kernel allows them and are populated in one system call,
// so that writing the quantizer's output takes no page faults (in virtual machines a fault
// costs microseconds, more than quantizing the page). Small ones come from at::empty. When
// such a tensor is freed its mapping is kept (up to 256 MB in all) for the next tensor of the
// same size, as the layers of a model repeat a few shapes.
at::Tensor emptyPrefaulted(at::IntArrayRef sizes, at::ScalarType type);

// How many bytes of freed mappings are kept for reuse (never below the default 256 MB); returns
// the previous limit. The block runner raises it to a block's weights, so that each layer loads
// into the pages of the one before instead of having the kernel clear fresh ones.
std::size_t setPrefaultedCacheLimit(std::size_t bytes);

} // namespace qs
