// SPDX-License-Identifier: GPL-3.0-or-later
#include "rules_model.h"

#include "quant/quant_scheme.h"

#include <QBrush>
#include <QColor>

namespace qs::ui {
namespace {

QString qstr(std::string_view s)
{
    return QString::fromUtf8(s.data(), static_cast<int>(s.size()));
}

} // namespace

RulesModel::RulesModel(QObject* parent)
    : QAbstractTableModel(parent)
{ }

void RulesModel::setRules(const std::vector<SelectionRule>& rules, const std::vector<int>& matchCounts)
{
    beginResetModel();
    m_rules = rules;
    m_matches = matchCounts;
    m_matches.resize(m_rules.size(), 0);
    endResetModel();
}

int RulesModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rules.size());
}

int RulesModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RulesModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    const SelectionRule& r = m_rules[static_cast<std::size_t>(index.row())];
    const int matches = m_matches[static_cast<std::size_t>(index.row())];
    if (role == Qt::ToolTipRole)
        return qstr(describeRule(r)) + (matches == 0 ? tr("\nMatches no quantizable module.") : QString());
    if (role == Qt::ForegroundRole && index.column() == MatchesColumn && matches == 0)
        return QBrush(QColor(176, 0, 32));
    if (role == Qt::TextAlignmentRole && index.column() == MatchesColumn)
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != Qt::EditRole)
        return {};
    switch (index.column()) {
    case ActionColumn:
        return qstr(ruleActionName(r.action))
            + (r.action == RuleAction::Quantize && !r.scheme.empty() ? QStringLiteral(" (%1)").arg(qstr(r.scheme))
                                                                     : QString());
    case SyntaxColumn:
        return qstr(ruleSyntaxName(r.syntax));
    case PatternColumn:
        return qstr(r.pattern);
    case MatchesColumn:
        return matches;
    case OriginColumn:
        return qstr(r.origin);
    }
    return {};
}

bool RulesModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (!index.isValid() || role != Qt::EditRole || index.row() >= rowCount())
        return false;
    SelectionRule r = m_rules[static_cast<std::size_t>(index.row())];
    const std::string text = value.toString().trimmed().toStdString();
    switch (index.column()) {
    case ActionColumn: { // "keep", "quantize" or "quantize PRESET" (a scheme for those modules)
        const auto space = text.find(' ');
        const auto a = ruleActionFromName(text.substr(0, space));
        if (!a)
            return false;
        std::string scheme = space == std::string::npos ? std::string() : text.substr(space + 1);
        scheme.erase(0, scheme.find_first_not_of(" ("));
        scheme.erase(scheme.find_last_not_of(" )") + 1);
        if (*a == RuleAction::Keep)
            scheme.clear();
        else if (!scheme.empty() && !findSchemePreset(scheme))
            return false;
        r.action = *a;
        r.scheme = scheme;
        break;
    }
    case SyntaxColumn: {
        const auto s = ruleSyntaxFromName(text);
        if (!s)
            return false;
        r.syntax = *s;
        break;
    }
    case PatternColumn:
        if (text.empty())
            return false;
        r.pattern = text;
        break;
    default:
        return false;
    }
    if (r == m_rules[static_cast<std::size_t>(index.row())])
        return false;
    std::vector<SelectionRule> edited = m_rules;
    edited[static_cast<std::size_t>(index.row())] = r;
    m_rules = edited;
    Q_EMIT dataChanged(this->index(index.row(), 0), this->index(index.row(), ColumnCount - 1));
    Q_EMIT rulesEdited(edited);
    return true;
}

Qt::ItemFlags RulesModel::flags(const QModelIndex& index) const
{
    if (!index.isValid())
        return Qt::NoItemFlags;
    Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
    if (index.column() <= PatternColumn)
        f |= Qt::ItemIsEditable;
    return f;
}

QVariant RulesModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case ActionColumn:
        return tr("Action");
    case SyntaxColumn:
        return tr("Matching");
    case PatternColumn:
        return tr("Pattern");
    case MatchesColumn:
        return tr("Matches");
    case OriginColumn:
        return tr("From");
    }
    return {};
}

} // namespace qs::ui
