// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "select/selection_rule.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QTableView;

namespace qs::ui {

class RulesModel;

// The keep-rules editor: a line to add a rule (matching syntax, pattern, keep or quantize),
// the ordered rules with their live match counts (editable in place), buttons to delete and
// reorder, presets, import and export, and the warnings of the current selection. It only
// emits requests; the owner changes the rules (with undo) and calls setRules/setWarnings.
class RulesPanel : public QWidget
{
    Q_OBJECT
public:
    explicit RulesPanel(RulesModel* model, QWidget* parent = nullptr);

    void setWarnings(const QStringList& warnings);
    void setSummary(const QString& text);
    int currentRule() const; // -1 when none is selected
    QTableView* table() const { return m_table; }
    QLineEdit* patternEdit() const { return m_pattern; }
    QComboBox* syntaxBox() const { return m_syntax; }

Q_SIGNALS:
    void addRequested(const qs::SelectionRule& rule);
    void removeRequested(int row);
    void moveRequested(int row, int delta);
    // "lm-head", "embeddings", "attention", "edge-mlps:N", and the measured "worst:K" / "below:DB"
    void presetRequested(const QString& preset);
    void importRequested();
    void exportRequested();
    void ruleSelected(int row);

private:
    void add(RuleAction action);

    RulesModel* m_model = nullptr;
    QTableView* m_table = nullptr;
    QComboBox* m_syntax = nullptr;
    QLineEdit* m_pattern = nullptr;
    QLabel* m_summary = nullptr;
    QLabel* m_warnings = nullptr;
};

} // namespace qs::ui
