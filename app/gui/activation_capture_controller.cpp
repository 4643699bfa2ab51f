// SPDX-License-Identifier: GPL-3.0-or-later
#include "activation_capture_controller.h"

#include "activation_panel.h"
#include "error.h"
#include "eval_panel.h"
#include "job_controller.h"
#include "runtime/calibration.h"
#include "runtime/stored_activations.h"

#include <QFileInfo>

#include <cstdint>
#include <memory>
#include <vector>

namespace qs::app {

ActivationCaptureController::ActivationCaptureController(
    JobContext context, EvalPanel* settings, ActivationPanel* view, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
    , m_settings(settings)
    , m_view(view)
{
    connect(m_settings, &EvalPanel::captureRequested, this, &ActivationCaptureController::capture);
    connect(m_view, &ActivationPanel::failed, this,
        [this](const QString& message) { Q_EMIT error(tr("Activations"), message); });
}

void ActivationCaptureController::capture()
{
    const LoadedModelPtr model = m_context.model();
    if (!model)
        return;
    if (m_settings->dataFile().isEmpty()) {
        Q_EMIT error(tr("Capture"), tr("Choose a data file first in the Evaluate tab."));
        return;
    }
    CalibrationRequest request;
    request.data = m_settings->dataFile().toStdString();
    request.seqLen = m_settings->seqLen();
    request.samples = m_settings->samples();
    request.seed = static_cast<std::uint64_t>(m_settings->calibrationSeed());
    try {
        request.maxMemory = m_settings->memoryLimit();
    } catch (const Error& e) {
        Q_EMIT error(tr("Capture"), QString::fromUtf8(e.what()));
        return;
    }
    auto result = std::make_shared<CalibrationResult>();
    m_settings->setStatus(tr("Capturing activations on %1 windows …").arg(request.samples));
    m_context.jobs->start(
        tr("Capturing activations"),
        [model, request, result](Progress& progress) { *result = calibrate(model->checkpoint, request, progress); },
        [this, model, result, source = m_settings->dataFile()] {
            if (model != m_context.model()) // another checkpoint was opened meanwhile
                return;
            const int count = static_cast<int>(result->points.size());
            m_settings->setStatus(tr("%1 capture points over %2 tokens (%3 windows).")
                                      .arg(count)
                                      .arg(result->tokens)
                                      .arg(result->windows));
            m_view->setCapture(std::make_shared<const std::vector<ActivationStats>>(std::move(result->points)), source);
            m_context.show(m_view);
            Q_EMIT captured(count);
        });
}

void ActivationCaptureController::onModelChanged()
{
    const LoadedModelPtr model = m_context.model();
    if (!model || model->checkpoint.quantization().activations.empty())
        return;
    auto result = std::make_shared<std::vector<ActivationStats>>();
    const QString file = QFileInfo(QString::fromStdString(model->checkpoint.path().string())).fileName();
    m_context.jobs->start(
        tr("Reading stored activations"),
        [model, result](Progress& progress) { *result = storedActivations(model->checkpoint, progress); },
        [this, model, result, file] {
            if (model != m_context.model())
                return;
            const int count = static_cast<int>(result->size());
            m_view->setCapture(std::make_shared<const std::vector<ActivationStats>>(std::move(*result)),
                tr("%1, stored by the nanoGPT fork's --store_activations (the last forward before saving)").arg(file));
            Q_EMIT storedActivationsShown(count);
        });
}

} // namespace qs::app
