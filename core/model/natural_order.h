// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string_view>

namespace qs {

// Compares strings so that runs of digits compare as numbers: "layers.2" < "layers.10".
// Equal numbers with different leading zeros fall back to the shorter spelling first, so the
// order is total and deterministic.
bool naturalLess(std::string_view a, std::string_view b);

} // namespace qs
