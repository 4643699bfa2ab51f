// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis_controller.h"

#include "module_details_panel.h"
#include "selection_editor.h"

namespace qs::app {

AnalysisController::AnalysisController(JobContext context, ModuleDetailsPanel* view, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
    , m_view(view)
{ }

void AnalysisController::onModelChanged()
{
    m_view->setModel(m_context.model());
}

void AnalysisController::follow(int node)
{
    const LoadedModelPtr model = m_context.model();
    if (!model)
        return;
    const QString path = QString::fromStdString(model->tree.node(node).path);
    m_view->showModule(node, m_context.selection->keptModules().contains(path));
}

void AnalysisController::onKeepChanged(int node)
{
    const LoadedModelPtr model = m_context.model();
    if (!model || node < 0)
        return;
    m_view->setKept(model->tree.isQuantizable(node)
        && m_context.selection->keptModules().contains(QString::fromStdString(model->tree.node(node).path)));
}

void AnalysisController::onSchemeChanged(const QuantScheme& scheme)
{
    m_view->setScheme(scheme);
}

} // namespace qs::app
