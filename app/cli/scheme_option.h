// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "arguments.h"
#include "quant/quant_scheme.h"

#include <optional>

namespace qs::cli {

// The preset named by --scheme, or nothing when the option is absent; UsageError for an
// unknown name.
std::optional<QuantScheme> schemeOption(const Arguments& args);

} // namespace qs::cli
