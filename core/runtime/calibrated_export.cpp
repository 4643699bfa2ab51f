// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/calibrated_export.h"

#include "error.h"
#include "quant/calibrated_tensors.h"
#include "runtime/spinquant.h"

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
        settings.untie = true; // a tied model's rotated head becomes its own, and the config says so
        if (a.spinQuant) {
            if (calibration.data.empty())
                throw UsageError("SpinQuant learns its rotations on calibration data: give a calibration data file");
            SpinQuantSettings learn = spinQuantSettings(a);
            learn.scheme = calibration.scheme;
            learn.moduleSchemes = calibration.moduleSchemes;
            learn.quantized = calibration.quantized;
            if (learn.quantized.empty())
                learn.scheme.reset(); // nothing quantized: nothing to learn for
            learn.maxMemory = calibration.maxMemory;
            SpinQuantReport report;
            auto rotations = std::make_shared<const LearnedRotations>(
                learnRotations(checkpoint, exportCalibrationSamples(checkpoint, calibration), learn, progress, report));
            if (!report.keptStart) // otherwise the start: the fixed rotation of the same kind and seed
                settings.learned = std::move(rotations);
            result.spinQuant = report;
        }
        rotated = std::make_shared<CalibratedTensors>(calibration.spillDirectory);
        result.rotation = rotateCheckpoint(checkpoint, settings, *rotated, progress);
    }
    const Checkpoint source = rotated ? rotated->apply(checkpoint) : checkpoint;
    if (rotated)
        options.configPatch = rotated->configPatch();
    if (calibration.data.empty() || !exportNeedsCalibration(calibration.scheme, a)) {
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
