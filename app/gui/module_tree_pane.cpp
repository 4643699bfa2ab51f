// SPDX-License-Identifier: GPL-3.0-or-later
#include "module_tree_pane.h"

#include "format.h"
#include "io/checkpoint_summary.h"
#include "loaded_model.h"
#include "module_tree_model.h"
#include "rules_panel.h"

#include <QEvent>
#include <QFileInfo>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QSplitter>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>
#include <cctype>
#include <string>

namespace qs::app {

ModuleTreePane::ModuleTreePane(ui::ModuleTreeModel* model, ui::RulesModel* rules, QWidget* parent)
    : QWidget(parent)
    , m_model(model)
    , m_tree(new QTreeView(this))
    , m_summary(new QLabel(this))
    , m_filter(new QLineEdit(this))
{
    setUpTree();
    m_filter->setObjectName(QStringLiteral("moduleFilter"));
    m_filter->setPlaceholderText(tr("Filter modules (part of a name, e.g. mlp or layers.3)"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, this, &ModuleTreePane::applyFilter);
    m_summary->setObjectName(QStringLiteral("summary"));
    m_summary->setWordWrap(true);
    m_summary->setTextFormat(Qt::RichText);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 0, 0);
    layout->addWidget(m_summary);
    layout->addWidget(m_filter);
    // The tree above the keep rules that decide its check boxes.
    m_rulesPanel = new ui::RulesPanel(rules, this);
    m_rulesPanel->setObjectName(QStringLiteral("rulesPanel"));
    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_tree);
    splitter->addWidget(m_rulesPanel);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    layout->addWidget(splitter, 1);
}

void ModuleTreePane::setUpTree()
{
    m_tree->setModel(m_model);
    m_tree->setUniformRowHeights(true);
    m_tree->setAlternatingRowColors(true);
    m_tree->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_tree->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_tree->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_tree, &QWidget::customContextMenuRequested, this, &ModuleTreePane::showMenu);
    m_tree->header()->setStretchLastSection(false);
    // The name column takes the free width but never less than 180 px: when the window is
    // narrow the tree scrolls sideways instead of eliding every name.
    m_tree->header()->setSectionResizeMode(ui::ModuleTreeModel::NameColumn, QHeaderView::Interactive);
    m_tree->viewport()->installEventFilter(this);
    connect(m_tree->header(), &QHeaderView::sectionResized, this, [this](int section) {
        if (section != ui::ModuleTreeModel::NameColumn)
            fitNameColumn();
    });
    for (int c = ui::ModuleTreeModel::KeepColumn; c < ui::ModuleTreeModel::RuleColumn; ++c)
        m_tree->header()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    m_tree->header()->setSectionResizeMode(ui::ModuleTreeModel::RuleColumn, QHeaderView::Interactive);
    m_tree->setColumnWidth(ui::ModuleTreeModel::RuleColumn, 170);
}

bool ModuleTreePane::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_tree->viewport() && event->type() == QEvent::Resize)
        fitNameColumn();
    return QWidget::eventFilter(watched, event);
}

void ModuleTreePane::fitNameColumn()
{
    int others = 0;
    for (int c = ui::ModuleTreeModel::KeepColumn; c < ui::ModuleTreeModel::ColumnCount; ++c)
        others += m_tree->header()->isSectionHidden(c) ? 0 : m_tree->header()->sectionSize(c);
    m_tree->setColumnWidth(ui::ModuleTreeModel::NameColumn, std::max(180, m_tree->viewport()->width() - others));
}

void ModuleTreePane::showFirstLevels(int node)
{
    m_tree->collapseAll();
    m_tree->expandToDepth(1);
    if (node < 0)
        return;
    const QModelIndex first = m_model->indexForNode(node);
    for (QModelIndex p = first.parent(); p.isValid(); p = p.parent())
        m_tree->expand(p);
    m_tree->setCurrentIndex(first);
}

bool ModuleTreePane::selectModule(const QString& path)
{
    const QModelIndex index = m_model->indexForPath(path);
    if (!index.isValid())
        return false;
    for (QModelIndex p = index.parent(); p.isValid(); p = p.parent())
        m_tree->expand(p);
    m_tree->setCurrentIndex(index);
    m_tree->scrollTo(index);
    return true;
}

int ModuleTreePane::currentNode() const
{
    const QModelIndex current = m_tree->currentIndex();
    return current.isValid() ? m_model->nodeOf(current) : -1;
}

std::vector<int> ModuleTreePane::selectedModules() const
{
    std::vector<int> nodes;
    for (const QModelIndex& index : m_tree->selectionModel()->selectedRows()) {
        const int node = m_model->nodeOf(index);
        if (m_model->tree().node(node).quantizableCount > 0)
            nodes.push_back(node);
    }
    return nodes;
}

void ModuleTreePane::showMenu(const QPoint& position)
{
    if (m_model->tree().size() == 0 || m_tree->selectionModel()->selectedRows().isEmpty())
        return;
    QMenu menu(this);
    const int count = m_tree->selectionModel()->selectedRows().size();
    menu.addAction(tr("Keep in Full Precision (%n selected)", "", count), this, [this] { Q_EMIT keepRequested(true); });
    menu.addAction(tr("Quantize (%n selected)", "", count), this, [this] { Q_EMIT keepRequested(false); });
    menu.exec(m_tree->viewport()->mapToGlobal(position));
}

void ModuleTreePane::applyFilter(const QString& text)
{
    // Rows whose path contains the text stay visible, with their ancestors; others are hidden.
    const ModuleTree& tree = m_model->tree();
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
        const QModelIndex index = m_model->indexForNode(i);
        m_tree->setRowHidden(index.row(), index.parent(), !visible[static_cast<std::size_t>(i)]);
        if (!needle.empty() && visible[static_cast<std::size_t>(i)] && tree.node(i).path.size() < 200)
            m_tree->expand(index.parent());
    }
}

void ModuleTreePane::showSummary(const LoadedModel* model, const QString& path)
{
    if (!model) {
        m_summary->setText(tr("Open a checkpoint with <b>File ▸ Open</b>, drop one here, or try "
                              "<b>File ▸ Open Demo Model</b>."));
        return;
    }
    const CheckpointSummary s = summarizeCheckpoint(model->checkpoint);
    const QString format = QString::fromStdString(s.format)
        + (s.layout.empty() ? QString() : QStringLiteral(" (%1)").arg(QString::fromStdString(s.layout)));
    QString html
        = tr("<b>%1</b> · %2 · %3 on disk")
              .arg(QFileInfo(path).fileName().toHtmlEscaped(), format.toHtmlEscaped(), ui::formatBytes(s.bytesOnDisk));
    if (s.files.size() > 1)
        html += tr(" in %1 shards").arg(s.files.size());
    html += QStringLiteral("<br>")
        + tr("%1 parameters · %2")
              .arg(ui::formatCount(s.parameters), QString::fromStdString(s.dtypeMix()).toHtmlEscaped());
    if (!s.modelType.empty())
        html += QStringLiteral(" · ") + QString::fromStdString(s.modelType).toHtmlEscaped();
    if (!s.shape().empty())
        html += QStringLiteral(" · ") + QString::fromStdString(s.shape()).toHtmlEscaped();
    if (!s.tiedTensors.empty())
        html += QStringLiteral(" · ")
            + (s.tiedTensors.size() == 1 ? tr("1 tied tensor") : tr("%1 tied tensors").arg(s.tiedTensors.size()));
    if (!s.quantization.empty())
        html += QStringLiteral("<br>")
            + tr("<b>Quantized:</b> %1").arg(QString::fromStdString(s.quantization).toHtmlEscaped());
    html += QStringLiteral("<br>")
        + (m_model->quantizableCount() == 1 ? tr("%1 Linear module, <b>%2 kept</b> in full precision")
                                            : tr("%1 Linear modules, <b>%2 kept</b> in full precision"))
              .arg(m_model->quantizableCount())
              .arg(m_model->keptCount());
    m_summary->setText(html);

    // Files, notes and metadata in the tooltip: there when wanted, out of the way otherwise.
    QString tip;
    for (const auto& f : s.files)
        tip += tr("%1 — %2, %3 tensors")
                   .arg(QString::fromStdString(f.path.filename().string()), ui::formatBytes(f.bytesOnDisk))
                   .arg(f.tensors)
            + QStringLiteral("\n");
    if (!s.tokenizer.empty())
        tip += tr("tokenizer: %1").arg(QString::fromStdString(s.tokenizer)) + QStringLiteral("\n");
    for (const auto& n : s.notes)
        tip += QString::fromStdString(n) + QStringLiteral("\n");
    for (const auto& [key, value] : model->checkpoint.metadata())
        tip += QStringLiteral("%1 = %2\n")
                   .arg(QString::fromStdString(key),
                       QString::fromStdString(value.size() > 120 ? value.substr(0, 120) + "…" : value));
    m_summary->setToolTip(tip.trimmed());
}

} // namespace qs::app
