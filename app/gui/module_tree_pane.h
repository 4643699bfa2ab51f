// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>
#include <QWidget>

#include <vector>

class QLabel;
class QLineEdit;
class QPoint;
class QTreeView;

namespace qs::ui {
class ModuleTreeModel;
class RulesModel;
class RulesPanel;
} // namespace qs::ui

namespace qs::app {

struct LoadedModel;

// The left side of the main window: the open checkpoint's summary, the module filter, the module
// tree with its "keep full precision" column and, below it, the keep rules that decide it.
class ModuleTreePane : public QWidget
{
    Q_OBJECT
public:
    ModuleTreePane(ui::ModuleTreeModel* model, ui::RulesModel* rules, QWidget* parent = nullptr);

    QTreeView* treeView() const { return m_tree; }
    QLineEdit* filter() const { return m_filter; }
    ui::RulesPanel* rulesPanel() const { return m_rulesPanel; }

    // The summary of `model` opened from `path` (or how to open one when null); its files,
    // notes and metadata in the tooltip.
    void showSummary(const LoadedModel* model, const QString& path);
    // Shows the first two levels (model -> layers) and makes `node` (if any) current.
    void showFirstLevels(int node);
    bool selectModule(const QString& path);
    int currentNode() const; // -1 when there is none
    // The selected rows' nodes that hold quantizable modules.
    std::vector<int> selectedModules() const;

Q_SIGNALS:
    // The context menu's "Keep in Full Precision" (true) or "Quantize" (false) for the selection.
    void keepRequested(bool keep);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void setUpTree();
    void showMenu(const QPoint& position);
    void applyFilter(const QString& text);
    void fitNameColumn();

    ui::ModuleTreeModel* m_model;
    QTreeView* m_tree = nullptr;
    QLabel* m_summary = nullptr;
    QLineEdit* m_filter = nullptr;
    ui::RulesPanel* m_rulesPanel = nullptr;
};

} // namespace qs::app
