// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "select/selection_rule.h"

#include <QAbstractTableModel>

#include <vector>

namespace qs::ui {

// The ordered keep rules as a table: action, syntax and pattern are editable in place; the
// match count and origin are shown. Edits change the model and emit rulesEdited() with the
// new list, so that the owner can record them (undo) and resolve them again.
class RulesModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column
    {
        ActionColumn,
        SyntaxColumn,
        PatternColumn,
        MatchesColumn,
        OriginColumn,
        ColumnCount
    };

    explicit RulesModel(QObject* parent = nullptr);

    const std::vector<SelectionRule>& rules() const { return m_rules; }
    // Replaces the rules (no rulesEdited signal) and their match counts.
    void setRules(const std::vector<SelectionRule>& rules, const std::vector<int>& matchCounts);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void rulesEdited(const std::vector<SelectionRule>& rules);

private:
    std::vector<SelectionRule> m_rules;
    std::vector<int> m_matches;
};

} // namespace qs::ui
