// SPDX-License-Identifier: GPL-3.0-or-later
#include "project/project_conversion.h"

#include "error.h"
#include "jobs/conversion_plan.h"
#include "model/module_tree.h"
#include "select/keep_list_io.h"
#include "select/selection.h"

#include <algorithm>

namespace qs {

namespace {

KeepTarget keepTargetFor(ExportFormat format)
{
    switch (format) {
    case ExportFormat::Nxd:
    case ExportFormat::NxdFp8Rescale:
        return KeepTarget::Nxd;
    case ExportFormat::CompressedTensors:
        return KeepTarget::CompressedTensors;
    case ExportFormat::Aiu:
        return KeepTarget::Aiu;
    default:
        return KeepTarget::Any;
    }
}

} // namespace

ProjectConversion projectConversion(const Project& project, const ModuleTree& tree)
{
    ProjectConversion out;
    const SelectionResult selection = resolveSelection(tree, project.rules, keepTargetFor(project.output.format));
    for (const auto& w : selection.warnings)
        out.warnings.push_back(w.message);
    if (tree.quantizable().empty() && project.output.format != ExportFormat::NxdFp8Rescale)
        out.warnings.push_back("no Linear weights found: every tensor is copied unchanged");

    ConversionOptions& o = out.options;
    o.format = project.output.format;
    o.destination = project.output.destination;
    o.overwrite = project.output.overwrite;
    o.maxShardBytes = project.output.maxShardBytes;
    o.nxdKeepShape = project.output.nxdKeepShape;
    o.hdf5Gzip = project.output.hdf5Gzip;
    o.hdf5IncludeOriginal = project.output.hdf5IncludeOriginal;
    const std::set<int> kept = selection.kept();
    for (int m : kept)
        o.keptModules.insert(tree.node(m).path);
    o.modulesToNotConvert = nxdKeepNames(tree, kept, project.rules);
    o.scheme = project.scheme;
    o.moduleSchemes = moduleSchemesOf(tree, selection);

    ExportCalibrationRequest& r = out.calibration;
    r.algorithms = project.algorithms; // rotations need no data
    r.scheme = o.scheme;
    r.moduleSchemes = o.moduleSchemes;
    r.fmsMoSmoothQuant = o.format == ExportFormat::Aiu;
    const std::set<int> resolved = resolveKeptModules(tree, o.keptModules);
    for (int m : tree.quantizable()) {
        if (!resolved.count(m))
            r.quantized.insert(tree.node(m).path);
    }
    // The data is used only by what measures on it: the algorithms or static activation scales.
    const bool calibrates = project.algorithms.needsData() || isStaticActivations(project.scheme.activations)
        || std::any_of(o.moduleSchemes.begin(), o.moduleSchemes.end(),
            [](const auto& m) { return isStaticActivations(m.second.activations); });
    if (calibrates && !project.calibration)
        throw UsageError(
            std::string(project.algorithms.needsData() ? "SmoothQuant, AWQ, GPTQ and SpinQuant calibrate on data"
                                                       : "static activation scales are measured on data")
            + ", but no calibration data is given");
    if (project.calibration && calibrates) {
        r.data = project.calibration->data;
        r.samples = project.calibration->samples;
        r.seqLen = project.calibration->seqLen;
    }
    return out;
}

} // namespace qs
