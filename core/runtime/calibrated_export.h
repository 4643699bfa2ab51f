// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// An export with its algorithms as one job: the rotations fused into the weights first (when the
// algorithms ask for them; they need no data unless SpinQuant learns them on the calibration
// samples, with the export's scheme and modules, weights float in its loss when GPTQ follows), then the calibration on the rotated model (when
// `calibration.data` is set: SmoothQuant or AWQ, GPTQ, static input scales), then the conversion
// of the result. What the steps computed lives in unnamed temporary files until the export is
// written. Shared by `convert` and the GUI's export.
#include "jobs/conversion_job.h"
#include "runtime/export_calibration.h"
#include "runtime/rotation.h"
#include "runtime/spinquant_report.h"

#include <optional>

namespace qs {

struct CalibratedExport
{
    ConversionReport conversion;
    std::optional<ExportCalibrationReport> calibration;
    std::optional<RotationReport> rotation;
    std::optional<SpinQuantReport> spinQuant; // when the rotation was learned
};

// `options.algorithms` becomes what was applied (with the mappings the calibration resolved).
CalibratedExport exportWithAlgorithms(const Checkpoint& checkpoint, const ModuleTree& tree, ConversionOptions options,
    const ExportCalibrationRequest& calibration, Progress& progress);

} // namespace qs
