// SPDX-License-Identifier: GPL-3.0-or-later
#include "measured_preset_controller.h"

#include "job_controller.h"
#include "selection_editor.h"
#include "stats/module_errors.h"

#include <map>
#include <memory>

namespace qs::app {

MeasuredPresetController::MeasuredPresetController(JobContext context, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
{
    connect(
        m_context.selection, &SelectionEditor::measurementRequested, this, &MeasuredPresetController::measureAndKeep);
}

void MeasuredPresetController::measureAndKeep(const QString& preset)
{
    const LoadedModelPtr model = m_context.model();
    if (!model)
        return;
    const QuantScheme scheme = m_context.scheme();
    auto sqnr = std::make_shared<std::map<int, double>>();
    m_context.jobs->start(
        tr("Measuring every module with %1").arg(QString::fromStdString(scheme.name)),
        [model, scheme, sqnr](
            Progress& progress) { *sqnr = measureModuleSqnr(model->checkpoint, model->tree, scheme, progress); },
        [this, model, sqnr, preset] {
            if (m_context.model() == model)
                m_context.selection->applyMeasured(*sqnr, preset);
        });
}

} // namespace qs::app
