// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"

#include <QString>

#include <cstdint>
#include <vector>

namespace qs::ui {

// "512", "1.2 K", "3.40 M", "7.00 B"
QString formatCount(std::int64_t count);
// "812 B", "6.4 KB", "13.2 MB", "140.0 GB" (decimal units, as Hugging Face counts shards)
QString formatBytes(std::uint64_t bytes);
// "704 × 256"; "scalar" for rank 0
QString formatShape(const std::vector<std::int64_t>& shape);
QString dtypeText(DType dtype);
// A number for tables: 4 significant digits, "∞" for infinities.
QString formatNumber(double value, int precision = 4);

} // namespace qs::ui
