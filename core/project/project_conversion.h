// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "jobs/conversion_job.h"
#include "project/project.h"
#include "runtime/export_calibration.h"

#include <string>
#include <vector>

namespace qs {

class ModuleTree;

// The export a project describes on its opened checkpoint, as exportWithAlgorithms takes it:
// the rules resolved on the tree (kept modules, the target's keep list, per-module schemes), the
// scheme, the output settings, and the calibration request (the algorithms; the data, samples
// and the quantized modules when the algorithms or static activation scales measure on data). The GUI's export and
// `quantscope-cli run` both build theirs here, so both write the same bytes.
struct ProjectConversion
{
    ConversionOptions options;
    ExportCalibrationRequest calibration;
    std::vector<std::string> warnings; // the selection's, for the export's target
};

ProjectConversion projectConversion(const Project& project, const ModuleTree& tree);

} // namespace qs
