// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "quant/output_cache.h"

#include <ATen/core/Tensor.h>

namespace qs {

// An uninitialised CPU tensor whose memory is mapped before it is returned: large ones get
// transparent huge pages where the kernel allows them and are populated in one system call,
// so that writing the quantizer's output takes no page faults (in virtual machines a fault
// costs microseconds, more than quantizing the page). Small ones come from at::empty. When
// such a tensor is freed its mapping is kept (up to 256 MB in all) for the next tensor of the
// same size, as the layers of a model repeat a few shapes.
at::Tensor emptyPrefaulted(at::IntArrayRef sizes, at::ScalarType type);

} // namespace qs
