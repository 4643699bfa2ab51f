// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "export/exporter.h"
#include "select/suggestion.h"

#include <QString>
#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace qs::ui {
class SuggestionView;
}

namespace qs::app {

// The "Suggest" tab: the budget (perplexity increase, KL, exported size or average bits), the
// candidate schemes besides the scheme dock's, the consumer, the sensitivity mode, a Suggest
// button, what the run found (predicted beside verified) and its curve and sensitivity chart.
// The data, windows and memory are the Evaluate tab's. The run is a job of the main window.
class SuggestPanel : public QWidget
{
    Q_OBJECT
public:
    explicit SuggestPanel(QWidget* parent = nullptr);

    // UsageError naming the field when the value does not parse.
    SuggestionBudget budget() const;
    void setBudget(BudgetKind kind, const QString& value);
    QString candidates() const; // comma-separated presets, may be empty
    void setCandidates(const QString& presets);
    // The consumer; `schemeDefault` when the combo says "the scheme's".
    ExportFormat format(ExportFormat schemeDefault) const;
    QString mode() const; // "block" or "exact"
    void setMode(const QString& mode);
    void setRunEnabled(bool enabled);
    void setStatus(const QString& text);
    QString status() const;
    void setResult(const QString& text);
    QString result() const;
    ui::SuggestionView* view() const { return m_view; }

Q_SIGNALS:
    void runRequested();

private:
    QComboBox* m_budgetKind = nullptr;
    QLineEdit* m_budgetValue = nullptr;
    QLineEdit* m_candidates = nullptr;
    QComboBox* m_format = nullptr;
    QComboBox* m_mode = nullptr;
    QPushButton* m_run = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_result = nullptr;
    ui::SuggestionView* m_view = nullptr;
};

} // namespace qs::app
