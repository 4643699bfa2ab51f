// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/calibrated_export.h"

#include "error.h"
#include "quant/calibrated_tensors.h"

#include <memory>

namespace qs {

CalibratedExport exportWithAlgorithms(const Checkpoint& checkpoint, const ModuleTree& tree, ConversionOptions options,
    const ExportCalibrationRequest& calibration, Progress& progress)
{
    CalibratedExport result;
    const AlgorithmSettings& a = calibration.algorithms;
    options.algorithms = a;
    if (a.rotationOnline)
        throw UsageError("the online Hadamard on the down projection's input is applied at inference, and no format "
                         "QuantScope writes carries it: export without it (eval simulates it)");
    std::shared_ptr<CalibratedTensors> rotated;
    if (!a.rotation.empty()) {
        RotationSettings settings;
        settings.kind = rotationKindFromName(a.rotation);
        settings.seed = a.rotationSeed;
        settings.r2 = a.rotationR2;
        rotated = std::make_shared<CalibratedTensors>(calibration.spillDirectory);
        result.rotation = rotateCheckpoint(checkpoint, settings, *rotated, progress);
    }
    const Checkpoint source = rotated ? rotated->apply(checkpoint) : checkpoint;
    if (calibration.data.empty()) {
        result.conversion = convertCheckpoint(source, tree, options, progress);
        return result;
    }
    auto calibrated = std::make_shared<CalibratedTensors>(calibration.spillDirectory);
    result.calibration = calibrateForExport(source, calibration, *calibrated, progress);
    options.calibrated = calibrated;
    options.algorithms.smoothQuantMappings = result.calibration->mappings;
    options.algorithms.awqMappings = result.calibration->awqMappings;
    result.conversion = convertCheckpoint(calibrated->apply(source), tree, options, progress);
    return result;
}

} // namespace qs
