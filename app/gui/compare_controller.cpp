// SPDX-License-Identifier: GPL-3.0-or-later
#include "compare_controller.h"

#include "compare_panel.h"

#include <algorithm>
#include <string>

namespace qs::app {

CompareController::CompareController(JobContext context, ComparePanel* view, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
    , m_view(view)
{
    connect(m_view, &ComparePanel::failed, this, &CompareController::failed);
}

void CompareController::compareWith(const QString& path)
{
    if (!m_context.model())
        return;
    m_context.show(m_view);
    m_view->openOther(path);
}

void CompareController::onModelChanged()
{
    m_view->setModel(m_context.model(), m_context.modelPath());
}

void CompareController::follow(int node)
{
    const LoadedModelPtr model = m_context.model();
    if (!model)
        return;
    const ModuleNode& n = model->tree.node(node);
    if (!n.tensors.empty()) {
        const std::string weight = n.path + ".weight";
        const bool hasWeight = std::find(n.tensors.begin(), n.tensors.end(), weight) != n.tensors.end();
        m_view->compare(QString::fromStdString(hasWeight ? weight : n.tensors.front()));
    }
}

} // namespace qs::app
