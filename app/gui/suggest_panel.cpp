// SPDX-License-Identifier: GPL-3.0-or-later
#include "suggest_panel.h"

#include "error.h"
#include "runtime/memory.h"
#include "suggestion_view.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace qs::app {
namespace {

struct BudgetChoice
{
    BudgetKind kind;
    const char* label;
    const char* placeholder;
};

const BudgetChoice kBudgets[] = {
    { BudgetKind::PerplexityIncrease, QT_TRANSLATE_NOOP("qs::app::SuggestPanel", "Perplexity increase at most (%)"), "1" },
    { BudgetKind::Kl, QT_TRANSLATE_NOOP("qs::app::SuggestPanel", "KL divergence at most (nats/token)"), "0.01" },
    { BudgetKind::Size, QT_TRANSLATE_NOOP("qs::app::SuggestPanel", "Exported size at most"), "4.5G" },
    { BudgetKind::Bits, QT_TRANSLATE_NOOP("qs::app::SuggestPanel", "Average bits per weight at most"), "6" },
};

} // namespace

SuggestPanel::SuggestPanel(QWidget* parent)
    : QWidget(parent)
    , m_budgetKind(new QComboBox(this))
    , m_budgetValue(new QLineEdit(this))
    , m_candidates(new QLineEdit(this))
    , m_format(new QComboBox(this))
    , m_mode(new QComboBox(this))
    , m_run(new QPushButton(tr("Suggest"), this))
    , m_status(new QLabel(this))
    , m_result(new QLabel(this))
    , m_view(new ui::SuggestionView(this))
{
    for (const BudgetChoice& b : kBudgets)
        m_budgetKind->addItem(tr(b.label), static_cast<int>(b.kind));
    m_budgetKind->setObjectName(QStringLiteral("suggestBudgetKind"));
    m_budgetValue->setObjectName(QStringLiteral("suggestBudgetValue"));
    m_budgetValue->setText(QStringLiteral("1"));
    m_budgetValue->setMaximumWidth(110);
    connect(m_budgetKind, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_budgetValue->setText(QString::fromLatin1(kBudgets[i].placeholder));
    });
    m_candidates->setObjectName(QStringLiteral("suggestCandidates"));
    m_candidates->setPlaceholderText(tr("only the scheme dock's; or e.g. vllm-w8a16,vllm-w4a16"));
    m_candidates->setToolTip(tr("Schemes to choose among per module besides the scheme dock's (compressed-tensors "
                                "only: a mixed-precision checkpoint of several config groups)"));
    m_format->setObjectName(QStringLiteral("suggestFormat"));
    m_format->addItem(tr("the scheme's consumer"), -1);
    m_format->addItem(QStringLiteral("vLLM compressed-tensors"), static_cast<int>(ExportFormat::CompressedTensors));
    m_format->addItem(QStringLiteral("AWS Neuron NxD"), static_cast<int>(ExportFormat::Nxd));
    m_format->addItem(QStringLiteral("IBM AIU (fms-mo)"), static_cast<int>(ExportFormat::Aiu));
    m_format->setToolTip(tr("Whose fused groups, keep-list names and exported bytes count: vLLM keeps q/k/v and "
                            "gate/up together, NxD keeps q/k/v only with their whole attention block"));
    m_mode->setObjectName(QStringLiteral("suggestMode"));
    m_mode->addItem(tr("block (fast: layer-output error times the measured gain)"), QStringLiteral("block"));
    m_mode->addItem(tr("exact (every module's stream to the output)"), QStringLiteral("exact"));
    m_run->setObjectName(QStringLiteral("suggestRun"));
    m_run->setToolTip(tr("Measure every module's sensitivity on the Evaluate tab's data, choose the modules to keep "
                         "for the budget, verify the choice with a full evaluation, and apply it as rules"));
    m_status->setObjectName(QStringLiteral("suggestStatus"));
    m_status->setWordWrap(true);
    m_status->setText(tr("Uses the Evaluate tab's data, window length, windows and memory, and the scheme dock's "
                         "scheme and calibration (the verification runs its algorithms)."));
    m_result->setObjectName(QStringLiteral("suggestResult"));
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* budgetRow = new QHBoxLayout;
    budgetRow->addWidget(m_budgetKind, 1);
    budgetRow->addWidget(m_budgetValue);
    auto* form = new QFormLayout;
    form->addRow(tr("Budget:"), budgetRow);
    form->addRow(tr("Candidates:"), m_candidates);
    form->addRow(tr("Consumer:"), m_format);
    form->addRow(tr("Sensitivity:"), m_mode);
    auto* runRow = new QHBoxLayout;
    runRow->addWidget(m_status, 1);
    runRow->addWidget(m_run, 0, Qt::AlignTop);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addLayout(runRow);
    layout->addWidget(m_result);
    layout->addWidget(m_view, 1);
    connect(m_run, &QPushButton::clicked, this, &SuggestPanel::runRequested);
}

SuggestionBudget SuggestPanel::budget() const
{
    const auto kind = static_cast<BudgetKind>(m_budgetKind->currentData().toInt());
    QString text = m_budgetValue->text().trimmed();
    if (kind == BudgetKind::Size)
        return { kind, static_cast<double>(parseByteSize(text.toStdString(), "budget")) };
    if (kind == BudgetKind::PerplexityIncrease && text.endsWith(QLatin1Char('%')))
        text.chop(1);
    bool ok = false;
    const double v = text.toDouble(&ok);
    if (!ok || !(v >= 0))
        throw UsageError("budget: '" + m_budgetValue->text().toStdString() + "' is not a non-negative number");
    return { kind, kind == BudgetKind::PerplexityIncrease ? v / 100.0 : v };
}

void SuggestPanel::setBudget(BudgetKind kind, const QString& value)
{
    m_budgetKind->setCurrentIndex(m_budgetKind->findData(static_cast<int>(kind)));
    m_budgetValue->setText(value);
}

QString SuggestPanel::candidates() const
{
    return m_candidates->text().trimmed();
}

void SuggestPanel::setCandidates(const QString& presets)
{
    m_candidates->setText(presets);
}

ExportFormat SuggestPanel::format(ExportFormat schemeDefault) const
{
    const int v = m_format->currentData().toInt();
    return v < 0 ? schemeDefault : static_cast<ExportFormat>(v);
}

QString SuggestPanel::mode() const
{
    return m_mode->currentData().toString();
}

void SuggestPanel::setMode(const QString& mode)
{
    m_mode->setCurrentIndex(std::max(0, m_mode->findData(mode)));
}

void SuggestPanel::setRunEnabled(bool enabled)
{
    m_run->setEnabled(enabled);
}

void SuggestPanel::setStatus(const QString& text)
{
    m_status->setText(text);
}

QString SuggestPanel::status() const
{
    return m_status->text();
}

void SuggestPanel::setResult(const QString& text)
{
    m_result->setText(text);
}

QString SuggestPanel::result() const
{
    return m_result->text();
}

} // namespace qs::app
