// SPDX-License-Identifier: GPL-3.0-or-later
#include "rules_panel.h"

#include "quant/quant_scheme.h"
#include "rules_model.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPushButton>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace qs::ui {
namespace {

QString qstr(std::string_view s)
{
    return QString::fromUtf8(s.data(), static_cast<int>(s.size()));
}

const RuleSyntax kSyntaxes[] = { RuleSyntax::NxdPartial, RuleSyntax::CompressedTensors, RuleSyntax::FmsMoExact,
    RuleSyntax::Glob, RuleSyntax::Module };

// Action and syntax cells are edited with a combo box of the valid names.
class ChoiceDelegate : public QStyledItemDelegate
{
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const override
    {
        if (index.column() == RulesModel::PatternColumn)
            return QStyledItemDelegate::createEditor(parent, option, index);
        auto* box = new QComboBox(parent);
        if (index.column() == RulesModel::ActionColumn) {
            // quantize with the export's scheme, or with a preset of its own for these modules
            box->addItems({ QStringLiteral("keep"), QStringLiteral("quantize") });
            for (const auto& preset : schemePresets())
                box->addItem(QStringLiteral("quantize %1").arg(QString::fromStdString(preset.name)));
        } else {
            for (const RuleSyntax s : kSyntaxes)
                box->addItem(qstr(ruleSyntaxName(s)));
        }
        return box;
    }
    void setEditorData(QWidget* editor, const QModelIndex& index) const override
    {
        if (auto* box = qobject_cast<QComboBox*>(editor)) {
            QString current = index.data(Qt::EditRole).toString();
            current.remove(QLatin1Char('(')).remove(QLatin1Char(')'));
            if (box->findText(current) < 0)
                current = current.section(QLatin1Char(' '), 0, 0);
            box->setCurrentIndex(std::max(0, box->findText(current)));
            return;
        }
        QStyledItemDelegate::setEditorData(editor, index);
    }
    void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override
    {
        if (auto* box = qobject_cast<QComboBox*>(editor)) {
            model->setData(index, box->currentText());
            return;
        }
        QStyledItemDelegate::setModelData(editor, model, index);
    }
};

void setUpSyntaxBox(QComboBox* box)
{
    for (const RuleSyntax s : kSyntaxes)
        box->addItem(qstr(ruleSyntaxName(s)));
    box->setToolTip(
        RulesPanel::tr("How the pattern matches module names:\n"
                       "nxd — a substring of the full name, as AWS Neuron matches modules_to_not_convert\n"
                       "compressed-tensors — the exact name, or re:REGEX matched from the start (vLLM ignore)\n"
                       "fms-mo — the exact full name (IBM AIU qskip_layer_name)\n"
                       "glob — * and ? over the full name\n"
                       "module — this module and everything below it"));
}

void setUpTable(QTableView* table, RulesModel* model)
{
    table->setModel(model);
    table->setItemDelegate(new ChoiceDelegate(table));
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setSelectionMode(QAbstractItemView::SingleSelection);
    table->verticalHeader()->setVisible(true);
    table->verticalHeader()->setDefaultSectionSize(22);
    table->horizontalHeader()->setStretchLastSection(true);
    table->horizontalHeader()->setSectionResizeMode(RulesModel::PatternColumn, QHeaderView::Stretch);
    table->horizontalHeader()->setSectionResizeMode(RulesModel::OriginColumn, QHeaderView::Interactive);
    for (int c : { RulesModel::ActionColumn, RulesModel::SyntaxColumn, RulesModel::MatchesColumn })
        table->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    table->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
}

QToolButton* toolButton(const QString& text, QWidget* parent)
{
    auto* button = new QToolButton(parent);
    button->setText(text);
    return button;
}

// The Presets button's menu: fixed presets, and the measured ones that ask for their number.
QMenu* createPresetMenu(RulesPanel* panel, QWidget* parent)
{
    auto* menu = new QMenu(parent);
    menu->addAction(
        RulesPanel::tr("Keep lm_head"), panel, [panel] { Q_EMIT panel->presetRequested(QStringLiteral("lm-head")); });
    menu->addAction(RulesPanel::tr("Keep embeddings"), panel,
        [panel] { Q_EMIT panel->presetRequested(QStringLiteral("embeddings")); });
    menu->addAction(RulesPanel::tr("Keep all attention"), panel,
        [panel] { Q_EMIT panel->presetRequested(QStringLiteral("attention")); });
    menu->addAction(RulesPanel::tr("Keep MLPs of the first and last N layers…"), panel, [panel] {
        bool ok = false;
        const int n = QInputDialog::getInt(
            panel, RulesPanel::tr("Keep edge MLPs"), RulesPanel::tr("Layers at each end:"), 1, 1, 64, 1, &ok);
        if (ok)
            Q_EMIT panel->presetRequested(QStringLiteral("edge-mlps:%1").arg(n));
    });
    menu->addSeparator();
    menu->addAction(RulesPanel::tr("Keep the worst modules (measured)…"), panel, [panel] {
        bool ok = false;
        const int k = QInputDialog::getInt(panel, RulesPanel::tr("Keep the worst modules"),
            RulesPanel::tr(
                "Quantize every Linear weight with the current scheme and keep the K with the lowest SQNR. K:"),
            3, 1, 100000, 1, &ok);
        if (ok)
            Q_EMIT panel->presetRequested(QStringLiteral("worst:%1").arg(k));
    });
    menu->addAction(RulesPanel::tr("Keep modules below an SQNR…"), panel, [panel] {
        bool ok = false;
        const double db = QInputDialog::getDouble(panel, RulesPanel::tr("Keep modules below an SQNR"),
            RulesPanel::tr(
                "Quantize every Linear weight with the current scheme and keep those with an SQNR below (dB):"),
            30.0, -100.0, 200.0, 1, &ok);
        if (ok)
            Q_EMIT panel->presetRequested(QStringLiteral("below:%1").arg(db));
    });
    return menu;
}

} // namespace

RulesPanel::RulesPanel(RulesModel* model, QWidget* parent)
    : QWidget(parent)
    , m_model(model)
    , m_table(new QTableView(this))
    , m_syntax(new QComboBox(this))
    , m_pattern(new QLineEdit(this))
    , m_summary(new QLabel(this))
    , m_warnings(new QLabel(this))
{
    setUpSyntaxBox(m_syntax);
    m_pattern->setPlaceholderText(tr("pattern, e.g. lm_head or layers.0.self_attn"));
    m_pattern->setClearButtonEnabled(true);
    auto* keep = new QPushButton(tr("Keep"), this);
    keep->setToolTip(tr("Add a rule that keeps the matching modules in full precision"));
    auto* quantize = new QPushButton(tr("Quantize"), this);
    quantize->setToolTip(tr("Add a rule that quantizes the matching modules (an exception to earlier rules)"));
    connect(keep, &QPushButton::clicked, this, [this] { add(RuleAction::Keep); });
    connect(quantize, &QPushButton::clicked, this, [this] { add(RuleAction::Quantize); });
    connect(m_pattern, &QLineEdit::returnPressed, this, [this] { add(RuleAction::Keep); });

    setUpTable(m_table, m_model);
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex& current) { Q_EMIT ruleSelected(current.isValid() ? current.row() : -1); });

    auto* remove = toolButton(tr("Delete"), this);
    auto* up = toolButton(tr("Up"), this);
    auto* down = toolButton(tr("Down"), this);
    connect(remove, &QToolButton::clicked, this, [this] {
        if (currentRule() >= 0)
            Q_EMIT removeRequested(currentRule());
    });
    connect(up, &QToolButton::clicked, this, [this] {
        if (currentRule() > 0)
            Q_EMIT moveRequested(currentRule(), -1);
    });
    connect(down, &QToolButton::clicked, this, [this] {
        if (currentRule() >= 0 && currentRule() + 1 < m_model->rowCount())
            Q_EMIT moveRequested(currentRule(), +1);
    });
    auto* presets = toolButton(tr("Presets"), this);
    presets->setPopupMode(QToolButton::InstantPopup);
    presets->setMenu(createPresetMenu(this, presets));
    auto* import = toolButton(tr("Import…"), this);
    import->setToolTip(tr("Read a keep list: modules_to_not_convert.json, config.json (ignore), an llm-compressor "
                          "recipe, an fms-mo qcfg.json or a text list"));
    auto* exportButton = toolButton(tr("Export…"), this);
    exportButton->setToolTip(tr("Write the kept modules as a keep list for NxD, vLLM, IBM AIU or as text"));
    connect(import, &QToolButton::clicked, this, &RulesPanel::importRequested);
    connect(exportButton, &QToolButton::clicked, this, &RulesPanel::exportRequested);

    m_summary->setObjectName(QStringLiteral("rulesSummary"));
    m_warnings->setObjectName(QStringLiteral("rulesWarnings"));
    m_warnings->setWordWrap(true);
    m_warnings->setTextFormat(Qt::RichText);

    auto* title = new QLabel(tr("<b>Keep in full precision</b> — rules apply in order, the last match decides; "
                                "modules no rule matches are quantized"),
        this);
    title->setWordWrap(true);
    auto* addRow = new QHBoxLayout;
    addRow->addWidget(m_syntax);
    addRow->addWidget(m_pattern, 1);
    addRow->addWidget(keep);
    addRow->addWidget(quantize);
    auto* buttons = new QHBoxLayout;
    for (QToolButton* b : { remove, up, down, presets, import, exportButton })
        buttons->addWidget(b);
    buttons->addStretch(1);
    buttons->addWidget(m_summary);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(title);
    layout->addLayout(addRow);
    layout->addWidget(m_table, 1);
    layout->addLayout(buttons);
    layout->addWidget(m_warnings);
}

void RulesPanel::add(RuleAction action)
{
    const QString pattern = m_pattern->text().trimmed();
    if (pattern.isEmpty())
        return;
    SelectionRule rule;
    rule.syntax = kSyntaxes[std::max(0, m_syntax->currentIndex())];
    rule.pattern = pattern.toStdString();
    rule.action = action;
    rule.origin = "typed";
    Q_EMIT addRequested(rule);
    m_pattern->clear();
}

void RulesPanel::setWarnings(const QStringList& warnings)
{
    QString html;
    for (const auto& w : warnings)
        html += QStringLiteral("<div style='color:#8a4b00'>⚠ %1</div>").arg(w.toHtmlEscaped());
    m_warnings->setText(html);
    m_warnings->setVisible(!warnings.isEmpty());
}

void RulesPanel::setSummary(const QString& text)
{
    m_summary->setText(text);
}

int RulesPanel::currentRule() const
{
    const QModelIndex current = m_table->currentIndex();
    return current.isValid() ? current.row() : -1;
}

} // namespace qs::ui
