// MainWindow's keep-selection actions: the tree's context menu and bulk keep/quantize, the
// module filter, measured presets (a job), and keep-list import/export.
#include "error.h"
#include "job_controller.h"
#include "main_window.h"
#include "module_tree_model.h"
#include "rules_panel.h"
#include "scheme_panel.h"
#include "selection_editor.h"
#include "stats/module_errors.h"

#include <QFileDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QMenu>
#include <QTreeView>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>

namespace qs::app {

void MainWindow::showTreeMenu(const QPoint& position)
{
    if (!m_model || m_tree->selectionModel()->selectedRows().isEmpty())
        return;
    QMenu menu(this);
    const int count = m_tree->selectionModel()->selectedRows().size();
    menu.addAction(tr("Keep in Full Precision (%n selected)", "", count), this, [this] { keepSelected(true); });
    menu.addAction(tr("Quantize (%n selected)", "", count), this, [this] { keepSelected(false); });
    menu.exec(m_tree->viewport()->mapToGlobal(position));
}

void MainWindow::keepSelected(bool keep)
{
    std::vector<int> nodes;
    for (const QModelIndex& index : m_tree->selectionModel()->selectedRows()) {
        const int node = m_treeModel->nodeOf(index);
        if (m_treeModel->tree().node(node).quantizableCount > 0)
            nodes.push_back(node);
    }
    if (!nodes.empty())
        m_selection->setKept(nodes, keep);
}

void MainWindow::applyFilter(const QString& text)
{
    // Rows whose path contains the text stay visible, with their ancestors; others are hidden.
    const ModuleTree& tree = m_treeModel->tree();
    const std::string needle = text.trimmed().toLower().toStdString();
    std::vector<char> visible(static_cast<std::size_t>(tree.size()), needle.empty() ? 1 : 0);
    if (!needle.empty()) {
        for (int i = 0; i < tree.size(); ++i) {
            std::string path = tree.node(i).path;
            std::transform(path.begin(), path.end(), path.begin(), [](unsigned char c) { return std::tolower(c); });
            if (path.find(needle) == std::string::npos)
                continue;
            for (int a = i; a >= 0 && !visible[static_cast<std::size_t>(a)]; a = tree.node(a).parent)
                visible[static_cast<std::size_t>(a)] = 1;
            for (const int d : tree.descendants(i))
                visible[static_cast<std::size_t>(d)] = 1;
        }
    }
    for (int i = 1; i < tree.size(); ++i) {
        const QModelIndex index = m_treeModel->indexForNode(i);
        m_tree->setRowHidden(index.row(), index.parent(), !visible[static_cast<std::size_t>(i)]);
        if (!needle.empty() && visible[static_cast<std::size_t>(i)] && tree.node(i).path.size() < 200)
            m_tree->expand(index.parent());
    }
}

void MainWindow::measureAndKeep(const QString& preset)
{
    if (!m_model)
        return;
    auto model = m_model;
    const QuantScheme scheme = m_schemePanel->scheme();
    auto sqnr = std::make_shared<std::map<int, double>>();
    const bool started = m_jobs->start(
        tr("Measuring every module with %1").arg(QString::fromStdString(scheme.name)),
        [model, scheme, sqnr](
            Progress& progress) { *sqnr = measureModuleSqnr(model->checkpoint, model->tree, scheme, progress); },
        [this, model, sqnr, preset] {
            if (m_model == model)
                m_selection->applyMeasured(*sqnr, preset);
        });
    if (!started)
        showError(tr("Busy"), tr("Wait for \"%1\" to finish or cancel it first.").arg(m_jobs->title()));
}

void MainWindow::importKeepList()
{
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Import Keep List"), QString(), tr("Keep lists (*.json *.yaml *.yml *.txt);;All files (*)"));
    if (path.isEmpty())
        return;
    try {
        m_selection->importFile(path);
    } catch (const Error& e) {
        showError(tr("Importing the keep list"), QString::fromStdString(e.what()));
    }
}

void MainWindow::exportKeepList()
{
    if (!m_model)
        return;
    QString filter;
    const QString path
        = QFileDialog::getSaveFileName(this, tr("Export Keep List"), QStringLiteral("modules_to_not_convert.json"),
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
        m_selection->exportFile(path, format);
        m_statusText->setText(tr("Wrote %1").arg(path));
    } catch (const Error& e) {
        showError(tr("Exporting the keep list"), QString::fromStdString(e.what()));
    }
}

} // namespace qs::app
