// SPDX-License-Identifier: GPL-3.0-or-later
#include "keep_list_controller.h"

#include "error.h"
#include "selection_editor.h"

#include <QFileDialog>

namespace qs::app {

KeepListController::KeepListController(JobContext context, QWidget* dialogParent, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
    , m_dialogParent(dialogParent)
{ }

void KeepListController::importList()
{
    const QString path = QFileDialog::getOpenFileName(
        m_dialogParent, tr("Import Keep List"), QString(), tr("Keep lists (*.json *.yaml *.yml *.txt);;All files (*)"));
    if (path.isEmpty())
        return;
    try {
        m_context.selection->importFile(path);
    } catch (const Error& e) {
        Q_EMIT error(tr("Importing the keep list"), QString::fromStdString(e.what()));
    }
}

void KeepListController::exportList()
{
    if (!m_context.model())
        return;
    QString filter;
    const QString path = QFileDialog::getSaveFileName(m_dialogParent, tr("Export Keep List"),
        QStringLiteral("modules_to_not_convert.json"),
        tr("NxD modules_to_not_convert.json (*.json);;compressed-tensors ignore (config fragment) (*.json);;"
           "llm-compressor recipe (*.yaml);;fms-mo qcfg.json (*.json);;Text list (*.txt)"),
        &filter);
    if (path.isEmpty())
        return;
    const QString format = filter.startsWith(QStringLiteral("NxD")) ? QStringLiteral("nxd")
        : filter.startsWith(QStringLiteral("compressed"))           ? QStringLiteral("compressed-tensors")
        : filter.startsWith(QStringLiteral("llm-compressor"))       ? QStringLiteral("recipe")
        : filter.startsWith(QStringLiteral("fms-mo"))               ? QStringLiteral("fms-mo")
                                                                    : QStringLiteral("text");
    try {
        m_context.selection->exportFile(path, format);
        Q_EMIT wrote(path);
    } catch (const Error& e) {
        Q_EMIT error(tr("Exporting the keep list"), QString::fromStdString(e.what()));
    }
}

} // namespace qs::app
