// SPDX-License-Identifier: GPL-3.0-or-later
#include "export_controller.h"

#include "error.h"
#include "export_dialog.h"
#include "format.h"
#include "job_controller.h"
#include "jobs/conversion_job.h"
#include "jobs/conversion_plan.h"
#include "project/project_conversion.h"
#include "runtime/calibrated_export.h"
#include "select/keep_list_io.h"
#include "selection_editor.h"

#include <QFileInfo>
#include <QRegularExpression>
#include <QStringList>

#include <filesystem>
#include <memory>

namespace qs::app {

ExportController::ExportController(JobContext context, QWidget* dialogParent, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
    , m_dialogParent(dialogParent)
{ }

// Why the scheme panel's scheme cannot be written in a format, before anything runs.
QString ExportController::problemFor(const QString& format) const
{
    ExportOptions options;
    options.scheme = m_context.scheme();
    // Static input scales come from the calibration the dialog asks for.
    if (isStaticActivations(options.scheme.activations))
        options.scheme.activations = options.scheme.format == QuantFormat::Fp8E4M3 ? "fp8-token-dynamic"
                                                                                   : "int8-token-dynamic";
    if (format == QStringLiteral("aiu") && isStaticActivations(m_context.scheme().activations))
        options.scheme = m_context.scheme();
    options.modelType = m_context.model()->checkpoint.modelType();
    try {
        makeExporter(*exportFormatFromName(format.toStdString()), options);
    } catch (const Error& e) {
        return tr("%1 Choose another scheme in View ▸ Quantization Scheme.").arg(QString::fromStdString(e.reason()));
    }
    return {};
}

void ExportController::showDialog()
{
    const LoadedModelPtr model = m_context.model();
    if (!model)
        return;
    const QFileInfo info(m_context.modelPath());
    const QString folder = info.isDir() ? info.absoluteFilePath() : info.absolutePath();
    const QuantScheme scheme = m_context.scheme();
    QString schemeName = QString::fromStdString(scheme.name);
    schemeName.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("-"));
    const QString suggestion = m_lastOutput && !m_lastOutput->destination.empty()
        ? QString::fromStdString(m_lastOutput->destination.string())
        : folder + QStringLiteral("-") + schemeName;
    const SelectionEditor& selection = *m_context.selection;
    const QStringList kept = selection.keptModules();
    QStringList names;
    for (const auto& n : nxdKeepNames(model->tree, selection.result().kept(), selection.rules()))
        names << QString::fromStdString(n);
    QStringList fullNames;
    for (const auto& n : fullKeepNames(model->tree, selection.result().kept()))
        fullNames << QString::fromStdString(n);
    const int quantizable = static_cast<int>(model->tree.quantizable().size());
    ExportDialog dialog(
        suggestion, quantizable - static_cast<int>(kept.size()), static_cast<int>(kept.size()), names, fullNames,
        [this](const QString& format) { return problemFor(format); }, m_dialogParent);
    if (m_lastOutput)
        dialog.setFormat(QString::fromUtf8(exportFormatName(m_lastOutput->format).data()));
    else if (scheme.convention == ScaleConvention::CompressedTensors)
        dialog.setFormat(QStringLiteral("compressed-tensors"));
    else if (scheme.convention == ScaleConvention::FmsMo)
        dialog.setFormat(QStringLiteral("aiu"));
    dialog.setCalibration(m_context.calibration());
    dialog.setNeedsCalibration(isStaticActivations(scheme.activations));
    if (dialog.exec() != QDialog::Accepted)
        return;
    if (dialog.calibrating())
        m_context.setCalibrationSamples(dialog.calibrationData(), dialog.calibrationSamples(),
            dialog.calibrationSeqLen()); // the dock shows what was used
    ExportCalibrationRequest calibration;
    calibration.algorithms = dialog.algorithms(); // rotations need no data
    if (dialog.calibrating()) {
        calibration.data = dialog.calibrationData().toStdString();
        calibration.samples = dialog.calibrationSamples();
        calibration.seqLen = dialog.calibrationSeqLen();
    }
    exportTo(dialog.destination(), dialog.overwrite(), dialog.format(), calibration);
}

void ExportController::exportTo(
    const QString& destination, bool overwrite, const QString& format, const ExportCalibrationRequest& calibration)
{
    const LoadedModelPtr model = m_context.model();
    if (!model)
        return;
    Project project = m_context.project();
    project.output.format = exportFormatFromName(format.toStdString()).value_or(ExportFormat::Nxd);
    project.output.destination = std::filesystem::path(destination.toStdString());
    project.output.overwrite = overwrite;
    project.algorithms = calibration.algorithms;
    project.calibration.reset();
    if (!calibration.data.empty())
        project.calibration = ProjectCalibration { calibration.data, calibration.samples, calibration.seqLen };
    m_lastOutput = project.output;
    const ProjectConversion conversion = projectConversion(project, model->tree);
    auto report = std::make_shared<ConversionReport>();
    m_context.jobs->start(
        tr("Exporting to %1").arg(QFileInfo(destination).fileName()),
        [model, conversion, report](Progress& progress) {
            // One job: the rotations, the calibration layer by layer, then the export of the result.
            *report = exportWithAlgorithms(
                model->checkpoint, model->tree, conversion.options, conversion.calibration, progress)
                          .conversion;
        },
        [this, report, destination] {
            Q_EMIT exported(destination,
                tr("Exported to %1: %2 quantized, %3 kept · %4 → %5")
                    .arg(destination)
                    .arg(report->quantizedCount)
                    .arg(report->keptModules.size())
                    .arg(ui::formatBytes(report->bytesIn), ui::formatBytes(report->bytesOut)));
        });
}

} // namespace qs::app
