// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "quant/quant_scheme.h"
#include "select/selection.h"

#include <QObject>
#include <QString>
#include <QStringList>

#include <map>
#include <memory>
#include <vector>

class QUndoStack;

namespace qs {
class ModuleTree;
}

namespace qs::ui {
class ModuleTreeModel;
class RulesModel;
class RulesPanel;
} // namespace qs::ui

namespace qs::app {

// Owns the keep rules of the open model: every change (a tree check box, a typed rule, an edit
// in the table, a preset, an import, a bulk action) is one undoable step that replaces the
// rule list; the rules are then resolved and the tree, the rules table and the warnings
// follow. The rules are saved per model path (QSettings) and restored when it is opened again.
class SelectionEditor : public QObject
{
    Q_OBJECT
public:
    SelectionEditor(ui::ModuleTreeModel* tree, ui::RulesModel* rules, ui::RulesPanel* panel, QObject* parent = nullptr);
    ~SelectionEditor() override;

    // A new model: its saved rules (if any) are restored; the undo history starts empty.
    void setModel(const ModuleTree* tree, const QString& modelPath);

    const std::vector<SelectionRule>& rules() const { return m_rules; }
    const SelectionResult& result() const { return m_result; }
    // The kept modules' full paths, as the tree's check boxes show them.
    QStringList keptModules() const;
    // Quantized modules whose deciding rule names a scheme preset of their own: path -> scheme.
    std::map<std::string, QuantScheme> moduleSchemes() const;
    // The export format the warnings are checked for (NxD until the other exporters land).
    void setTarget(KeepTarget target);
    QUndoStack* undoStack() const { return m_undo; }

    // One undoable step each.
    void setRules(const std::vector<SelectionRule>& rules, const QString& description);
    void addRule(const SelectionRule& rule);
    void setKept(const std::vector<int>& nodes, bool keep); // tree check boxes and bulk actions
    void applyPreset(const QString& preset);
    // Keep rules for measured modules ("worst:K" or "below:DB"), from SQNR by module index.
    void applyMeasured(const std::map<int, double>& sqnrDb, const QString& preset);
    void importFile(const QString& path); // throws qs::Error
    void exportFile(const QString& path, const QString& format) const; // throws qs::Error

    // Called by the undo commands: show `rules` without recording a step.
    void apply(const std::vector<SelectionRule>& rules);

Q_SIGNALS:
    void changed();
    // A preset that must measure every module first ("worst:K", "below:DB").
    void measurementRequested(const QString& preset);

private:
    void save() const;

    ui::ModuleTreeModel* m_treeModel;
    ui::RulesModel* m_rulesModel;
    ui::RulesPanel* m_panel;
    QUndoStack* m_undo;
    const ModuleTree* m_tree = nullptr;
    QString m_modelPath;
    std::vector<SelectionRule> m_rules;
    SelectionResult m_result;
    KeepTarget m_target = KeepTarget::Nxd;
};

} // namespace qs::app
