// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace qs {

struct ConversionReport;
struct QuantScheme;

// The report of a conversion as JSON: destination, format, scheme (every field), counts,
// kept modules, the keep list as written, files, bytes before/after with their ratio, and per
// tensor whether it was quantized with its MSE, SQNR, max error and cosine. The CLI prints it
// (--json) and every export carries it as quantscope_manifest.json.
nlohmann::ordered_json conversionReportJson(
    const ConversionReport& report, const QuantScheme& scheme, const std::vector<std::string>& warnings = {});

} // namespace qs
