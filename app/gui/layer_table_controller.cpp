// SPDX-License-Identifier: GPL-3.0-or-later
#include "layer_table_controller.h"

#include "job_controller.h"
#include "layer_table.h"
#include "selection_editor.h"
#include "stats/module_errors.h"

#include <memory>
#include <vector>

namespace qs::app {

LayerTableController::LayerTableController(JobContext context, ui::LayerTable* view, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
    , m_view(view)
{
    connect(m_view, &ui::LayerTable::measureRequested, this, &LayerTableController::measure);
    connect(m_view, &ui::LayerTable::moduleActivated, this, [this](int node) {
        const QString path = pathOf(node);
        if (!path.isEmpty())
            Q_EMIT moduleActivated(path);
    });
    connect(m_view, &ui::LayerTable::moduleSelected, this, [this](int node) {
        const QString path = pathOf(node);
        if (!path.isEmpty())
            Q_EMIT moduleSelected(path);
    });
}

QString LayerTableController::pathOf(int node) const
{
    const LoadedModelPtr model = m_context.model();
    if (!model || node < 0 || node >= model->tree.size())
        return {};
    return QString::fromStdString(model->tree.node(node).path);
}

QSet<QString> LayerTableController::keptSet() const
{
    const QStringList kept = m_context.selection->keptModules();
    return QSet<QString>(kept.begin(), kept.end());
}

void LayerTableController::onModelChanged()
{
    const LoadedModelPtr model = m_context.model();
    m_view->setRows({});
    m_view->setStatus(model ? tr("Measure to fill the table: each Linear weight quantized with %1.")
                                  .arg(QString::fromStdString(m_context.scheme().name))
                            : tr("Open a checkpoint first."));
    if (model)
        m_view->setKept(keptSet());
}

void LayerTableController::onSchemeChanged(const QuantScheme& scheme)
{
    m_view->setStatus(tr("Measure to fill the table with %1.").arg(QString::fromStdString(scheme.name)));
}

void LayerTableController::onKeepChanged()
{
    m_view->setKept(keptSet());
}

void LayerTableController::follow(int node)
{
    m_view->selectNode(node);
}

void LayerTableController::measure()
{
    const LoadedModelPtr model = m_context.model();
    if (!model || model->tree.quantizable().empty())
        return;
    const QuantScheme scheme = m_context.scheme();
    auto rows = std::make_shared<std::vector<LayerError>>();
    const QString schemeName = QString::fromStdString(scheme.name);
    m_view->setStatus(tr("Measuring every Linear weight with %1 …").arg(schemeName));
    m_context.jobs->start(
        tr("Measuring layers"),
        [model, scheme, rows](
            Progress& progress) { *rows = measureLayerErrors(model->checkpoint, model->tree, scheme, progress); },
        [this, rows, schemeName, model] {
            if (model != m_context.model())
                return; // another model was opened meanwhile
            const int count = static_cast<int>(rows->size());
            m_view->setRows(std::move(*rows));
            m_view->setStatus(
                tr("%1 modules measured with %2. Click a row to see its views.").arg(count).arg(schemeName));
            m_context.show(m_view);
            Q_EMIT measured(count);
        });
}

} // namespace qs::app
