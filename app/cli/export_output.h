// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>
#include <vector>

namespace qs {
class Checkpoint;
struct CalibratedExport;
struct QuantScheme;
} // namespace qs

namespace qs::cli {

// What `convert` and `run` print once an export is written: with `json`, the conversion report
// (conversionReportJson) with the calibration, rotation and SpinQuant reports; otherwise a summary
// of what was quantized, kept, written and calibrated.
void printExportResult(const Checkpoint& checkpoint, const CalibratedExport& result, const QuantScheme& scheme,
    const std::vector<std::string>& warnings, bool json);

} // namespace qs::cli
