// SPDX-License-Identifier: GPL-3.0-or-later
#include "evaluation_request.h"

#include "error.h"
#include "eval_panel.h"
#include "selection_editor.h"

#include <QCoreApplication>

namespace qs::app {

std::optional<EvaluationRequest> evaluationRequestFromViews(const JobContext& context, const EvalPanel& view, QString& error)
{
    if (view.dataFile().isEmpty()) {
        error = QCoreApplication::translate(
            "qs::app::EvaluationController", "Choose a data file first: token ids (.json), JSON lines with \"text\", or text.");
        return std::nullopt;
    }
    EvaluationRequest request;
    request.data = view.dataFile().toStdString();
    request.seqLen = view.seqLen();
    request.maxWindows = view.maxWindows();
    request.protocol = view.protocol().toStdString();
    const CalibrationChoice calibration = context.calibration();
    request.calibrationData = calibration.data.toStdString();
    request.calibrationSamples = calibration.samples;
    request.calibrationSeqLen = calibration.seqLen;
    request.scheme = context.scheme();
    for (const auto& path : context.selection->keptModules())
        request.kept.insert(path.toStdString());
    request.moduleSchemes = context.selection->moduleSchemes();
    applyAlgorithms(request, calibration.algorithms);
    try {
        request.maxMemory = view.memoryLimit();
    } catch (const Error& e) {
        error = QString::fromUtf8(e.what());
        return std::nullopt;
    }
    return request;
}

} // namespace qs::app
