// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "model/module_tree.h"

#include <QAbstractItemModel>
#include <QStringList>

#include <set>
#include <utility>
#include <vector>

namespace qs::ui {

// The module hierarchy of a checkpoint with a "keep full precision" check column. Only
// quantizable (Linear) modules carry a state of their own; a parent shows Checked when all
// quantizable modules below it are kept, PartiallyChecked when some are, and checking it
// sets them all.
class ModuleTreeModel : public QAbstractItemModel
{
    Q_OBJECT
public:
    enum Column
    {
        NameColumn,
        KeepColumn,
        KindColumn,
        ShapeColumn,
        DTypeColumn,
        ParamsColumn,
        RuleColumn, // the rule that decided a Linear module's status
        ColumnCount
    };
    enum Role
    {
        PathRole = Qt::UserRole + 1,
        NodeRole,
        QuantizableRole
    };

    explicit ModuleTreeModel(QObject* parent = nullptr);

    // Replaces the tree; nothing is kept afterwards.
    void setTree(ModuleTree tree);
    const ModuleTree& tree() const { return m_tree; }

    QModelIndex indexForNode(int node, int column = NameColumn) const;
    QModelIndex indexForPath(const QString& path, int column = NameColumn) const;
    int nodeOf(const QModelIndex& index) const; // the root for an invalid index

    // Full paths of the quantizable modules kept in full precision, in tree order.
    QStringList keptModules() const;
    void setKeptModules(const QStringList& paths); // unknown paths are ignored
    int keptCount() const;
    int quantizableCount() const;

    // What decided each quantizable module: a short text for the column and a longer one for
    // its tooltip, by node index (missing: "default").
    void setDecidingRules(const std::vector<std::pair<int, std::pair<QString, QString>>>& rules);
    // Rows drawn highlighted (the modules a selected rule matches); empty clears.
    void setHighlighted(const std::set<int>& nodes);

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void keepChanged();
    // The user checked or unchecked a row (setData); programmatic changes do not emit it.
    void keepToggled(int node, bool keep);

private:
    Qt::CheckState checkState(int node) const;
    void setKeptSubtree(int node, bool kept);
    void setKeptLeaf(int node, bool kept);
    void emitKeepChanged(const std::vector<int>& changedNodes);
    void emitColumnChanged(int column); // -1: every column
    QString ruleShort(int node) const;
    QString ruleLong(int node) const;

    ModuleTree m_tree;
    std::vector<int> m_row; // row of each node within its parent
    std::vector<char> m_kept; // per node; meaningful for quantizable nodes
    std::vector<int> m_keptBelow; // kept quantizable modules in each subtree
    std::vector<QString> m_ruleShort; // per node: the deciding rule, for the column
    std::vector<QString> m_ruleLong; // per node: the same, with its origin, for the tooltip
    std::vector<char> m_highlighted; // per node
};

} // namespace qs::ui
