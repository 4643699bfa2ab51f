// SPDX-License-Identifier: GPL-3.0-or-later
#include "module_tree_model.h"

#include "format.h"

#include <QBrush>
#include <QColor>

#include <set>

namespace qs::ui {

namespace {

QString qstr(const std::string& s)
{
    return QString::fromStdString(s);
}

} // namespace

ModuleTreeModel::ModuleTreeModel(QObject* parent)
    : QAbstractItemModel(parent)
{
    setTree(ModuleTree::build({}));
}

void ModuleTreeModel::setTree(ModuleTree tree)
{
    beginResetModel();
    m_tree = std::move(tree);
    const auto n = static_cast<std::size_t>(m_tree.size());
    m_row.assign(n, 0);
    for (int i = 0; i < m_tree.size(); ++i) {
        const auto& children = m_tree.node(i).children;
        for (std::size_t r = 0; r < children.size(); ++r)
            m_row[static_cast<std::size_t>(children[r])] = static_cast<int>(r);
    }
    m_kept.assign(n, 0);
    m_keptBelow.assign(n, 0);
    m_ruleShort.assign(n, QString());
    m_ruleLong.assign(n, QString());
    m_highlighted.assign(n, 0);
    endResetModel();
    Q_EMIT keepChanged();
}

QModelIndex ModuleTreeModel::indexForNode(int node, int column) const
{
    if (node <= m_tree.root() || node >= m_tree.size())
        return {};
    return createIndex(m_row[static_cast<std::size_t>(node)], column, static_cast<quintptr>(node));
}

QModelIndex ModuleTreeModel::indexForPath(const QString& path, int column) const
{
    return indexForNode(m_tree.find(path.toStdString()), column);
}

int ModuleTreeModel::nodeOf(const QModelIndex& index) const
{
    return index.isValid() ? static_cast<int>(index.internalId()) : m_tree.root();
}

QStringList ModuleTreeModel::keptModules() const
{
    QStringList out;
    for (int q : m_tree.quantizable()) {
        if (m_kept[static_cast<std::size_t>(q)])
            out << qstr(m_tree.node(q).path);
    }
    return out;
}

void ModuleTreeModel::setKeptModules(const QStringList& paths)
{
    std::set<std::string> wanted;
    for (const auto& p : paths)
        wanted.insert(p.toStdString());
    std::vector<int> changed;
    for (int q : m_tree.quantizable()) {
        const bool keep = wanted.count(m_tree.node(q).path) > 0;
        if (static_cast<bool>(m_kept[static_cast<std::size_t>(q)]) != keep) {
            setKeptLeaf(q, keep);
            changed.push_back(q);
        }
    }
    emitKeepChanged(changed);
}

void ModuleTreeModel::setDecidingRules(const std::vector<std::pair<int, std::pair<QString, QString>>>& rules)
{
    m_ruleShort.assign(static_cast<std::size_t>(m_tree.size()), QString());
    m_ruleLong.assign(static_cast<std::size_t>(m_tree.size()), QString());
    for (const auto& [node, text] : rules) {
        if (node >= 0 && node < m_tree.size()) {
            m_ruleShort[static_cast<std::size_t>(node)] = text.first;
            m_ruleLong[static_cast<std::size_t>(node)] = text.second;
        }
    }
    if (m_tree.size() > 1)
        emitColumnChanged(RuleColumn);
}

void ModuleTreeModel::setHighlighted(const std::set<int>& nodes)
{
    m_highlighted.assign(static_cast<std::size_t>(m_tree.size()), 0);
    for (const int n : nodes) {
        if (n >= 0 && n < m_tree.size())
            m_highlighted[static_cast<std::size_t>(n)] = 1;
    }
    if (m_tree.size() > 1)
        emitColumnChanged(-1);
}

void ModuleTreeModel::emitColumnChanged(int column)
{
    // Every row of one column (or of all columns): walk the tree, one signal per parent.
    std::vector<int> stack { m_tree.root() };
    while (!stack.empty()) {
        const int n = stack.back();
        stack.pop_back();
        const auto& children = m_tree.node(n).children;
        if (children.empty())
            continue;
        const QModelIndex parentIndex = indexForNode(n);
        Q_EMIT dataChanged(index(0, column < 0 ? 0 : column, parentIndex),
            index(static_cast<int>(children.size()) - 1, column < 0 ? ColumnCount - 1 : column, parentIndex));
        for (const int c : children)
            stack.push_back(c);
    }
}

int ModuleTreeModel::keptCount() const
{
    return m_keptBelow.empty() ? 0 : m_keptBelow[static_cast<std::size_t>(m_tree.root())];
}

int ModuleTreeModel::quantizableCount() const
{
    return static_cast<int>(m_tree.quantizable().size());
}

QModelIndex ModuleTreeModel::index(int row, int column, const QModelIndex& parent) const
{
    if (column < 0 || column >= ColumnCount || row < 0 || (parent.isValid() && parent.column() != 0))
        return {};
    const auto& children = m_tree.node(nodeOf(parent)).children;
    if (row >= static_cast<int>(children.size()))
        return {};
    return createIndex(row, column, static_cast<quintptr>(children[static_cast<std::size_t>(row)]));
}

QModelIndex ModuleTreeModel::parent(const QModelIndex& child) const
{
    if (!child.isValid())
        return {};
    return indexForNode(m_tree.node(nodeOf(child)).parent);
}

int ModuleTreeModel::rowCount(const QModelIndex& parent) const
{
    if (parent.isValid() && parent.column() != 0)
        return 0;
    return static_cast<int>(m_tree.node(nodeOf(parent)).children.size());
}

int ModuleTreeModel::columnCount(const QModelIndex&) const
{
    return ColumnCount;
}

Qt::CheckState ModuleTreeModel::checkState(int node) const
{
    const int kept = m_keptBelow[static_cast<std::size_t>(node)];
    if (kept == 0)
        return Qt::Unchecked;
    return kept == m_tree.node(node).quantizableCount ? Qt::Checked : Qt::PartiallyChecked;
}

QVariant ModuleTreeModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid())
        return {};
    const int nodeIndex = nodeOf(index);
    const ModuleNode& n = m_tree.node(nodeIndex);
    const bool quantizableBelow = n.quantizableCount > 0;

    switch (role) {
    case PathRole:
        return qstr(n.path);
    case NodeRole:
        return nodeIndex;
    case QuantizableRole:
        return m_tree.isQuantizable(nodeIndex);
    case Qt::CheckStateRole:
        if (index.column() == KeepColumn && quantizableBelow)
            return checkState(nodeIndex);
        return {};
    case Qt::ToolTipRole:
        if (index.column() == RuleColumn && m_tree.isQuantizable(nodeIndex))
            return ruleLong(nodeIndex);
        if (index.column() == KeepColumn && quantizableBelow)
            return tr("%1 of %2 Linear modules below are kept in full precision")
                .arg(m_keptBelow[static_cast<std::size_t>(nodeIndex)])
                .arg(n.quantizableCount);
        return qstr(n.path);
    case Qt::BackgroundRole:
        if (!m_highlighted.empty() && m_highlighted[static_cast<std::size_t>(nodeIndex)])
            return QBrush(QColor(187, 222, 251)); // blue: matched by the selected rule
        if (m_tree.isQuantizable(nodeIndex) && m_kept[static_cast<std::size_t>(nodeIndex)])
            return QBrush(QColor(255, 236, 179)); // amber: stays in full precision
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == ParamsColumn)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::DisplayRole:
        break;
    default:
        return {};
    }

    switch (index.column()) {
    case NameColumn:
        return qstr(n.name);
    case KeepColumn:
        return {};
    case KindColumn: {
        const auto kind = moduleKindName(n.kind);
        return QString::fromLatin1(kind.data(), static_cast<int>(kind.size()));
    }
    case ShapeColumn:
        return n.weightShape.empty() ? QString() : formatShape(n.weightShape);
    case DTypeColumn:
        return n.weightShape.empty() ? QString() : dtypeText(n.weightDType);
    case ParamsColumn:
        return formatCount(n.parameterCount);
    case RuleColumn:
        return m_tree.isQuantizable(nodeIndex) ? ruleShort(nodeIndex) : QString();
    }
    return {};
}

QString ModuleTreeModel::ruleShort(int node) const
{
    const std::size_t i = static_cast<std::size_t>(node);
    return i < m_ruleShort.size() && !m_ruleShort[i].isEmpty() ? m_ruleShort[i] : tr("default");
}

QString ModuleTreeModel::ruleLong(int node) const
{
    const std::size_t i = static_cast<std::size_t>(node);
    return i < m_ruleLong.size() && !m_ruleLong[i].isEmpty()
        ? m_ruleLong[i]
        : tr("No rule matches this module: it is quantized (the default)");
}

bool ModuleTreeModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (!index.isValid() || index.column() != KeepColumn || role != Qt::CheckStateRole)
        return false;
    const int node = nodeOf(index);
    if (m_tree.node(node).quantizableCount == 0)
        return false;
    const auto state = static_cast<Qt::CheckState>(value.toInt());
    setKeptSubtree(node, state == Qt::Checked);
    Q_EMIT keepToggled(node, state == Qt::Checked);
    return true;
}

Qt::ItemFlags ModuleTreeModel::flags(const QModelIndex& index) const
{
    if (!index.isValid())
        return Qt::NoItemFlags;
    Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
    if (index.column() == KeepColumn && m_tree.node(nodeOf(index)).quantizableCount > 0)
        f |= Qt::ItemIsUserCheckable;
    return f;
}

QVariant ModuleTreeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::ToolTipRole && section == RuleColumn)
        return tr("The keep rule that decided each Linear module (the last matching rule wins)");
    if (role == Qt::ToolTipRole && section == KeepColumn)
        return tr("Keep full precision: checked modules are not quantized "
                  "(they go into modules_to_not_convert / ignore)");
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case NameColumn:
        return tr("Module");
    case KeepColumn:
        return tr("Keep FP");
    case KindColumn:
        return tr("Kind");
    case ShapeColumn:
        return tr("Shape");
    case DTypeColumn:
        return tr("DType");
    case ParamsColumn:
        return tr("Params");
    case RuleColumn:
        return tr("Decided by");
    }
    return {};
}

void ModuleTreeModel::setKeptLeaf(int node, bool kept)
{
    auto& flag = m_kept[static_cast<std::size_t>(node)];
    if (static_cast<bool>(flag) == kept)
        return;
    flag = kept ? 1 : 0;
    const int delta = kept ? 1 : -1;
    for (int n = node; n >= 0; n = m_tree.node(n).parent)
        m_keptBelow[static_cast<std::size_t>(n)] += delta;
}

void ModuleTreeModel::setKeptSubtree(int node, bool kept)
{
    std::vector<int> changed;
    std::vector<int> candidates = m_tree.descendants(node);
    candidates.push_back(node);
    for (int n : candidates) {
        if (m_tree.isQuantizable(n) && static_cast<bool>(m_kept[static_cast<std::size_t>(n)]) != kept) {
            setKeptLeaf(n, kept);
            changed.push_back(n);
        }
    }
    emitKeepChanged(changed);
}

void ModuleTreeModel::emitKeepChanged(const std::vector<int>& changedNodes)
{
    if (changedNodes.empty())
        return;
    std::set<int> affected;
    for (int n : changedNodes) {
        for (int a = n; a > m_tree.root(); a = m_tree.node(a).parent) {
            if (!affected.insert(a).second)
                break; // its ancestors are already in
        }
    }
    for (int n : affected)
        Q_EMIT dataChanged(indexForNode(n, NameColumn), indexForNode(n, KeepColumn));
    Q_EMIT keepChanged();
}

} // namespace qs::ui
