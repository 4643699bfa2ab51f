// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"

#include <c10/core/ScalarType.h>

namespace qs {

// The libtorch type that holds a tensor of `dtype`. This libtorch (Debian 1.13) has no fp8
// types, so F8_E4M3 and F8_E5M2 throw FormatError naming the limitation.
c10::ScalarType toScalarType(DType dtype);
DType fromScalarType(c10::ScalarType type);

} // namespace qs
