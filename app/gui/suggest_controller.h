// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"

#include <QHash>
#include <QObject>
#include <QString>

#include <memory>

namespace qs {
struct SuggestReport;
struct SuggestionBudget;
}

namespace qs::app {

class EvalPanel;
class SuggestPanel;

// The Suggest tab's job: measure every module's sensitivity on the Evaluate tab's data with the
// scheme dock's scheme (and the tab's candidates), choose for the budget, verify with the scheme
// dock's calibration, and apply the choice as "suggested" rules (one undoable step). A click on the
// curve applies that point's keep set the same way.
class SuggestController : public QObject
{
    Q_OBJECT
public:
    SuggestController(JobContext context, SuggestPanel* view, const EvalPanel* evaluate, QObject* parent = nullptr);

    void suggest();
    void onModelChanged();
    // Applies the curve's point `index` (that many of the most sensitive units kept) as rules.
    void applyCurvePoint(int index);

Q_SIGNALS:
    void suggested();
    // Per module path: its measured KL (the first candidate's), for the layer table.
    void sensitivityMeasured(const QHash<QString, double>& kl);
    void error(const QString& title, const QString& message);

private:
    void showReport();
    // Replaces the rules with keep rules for `keep` and quantize rules for schemes other than the
    // first candidate's.
    void applyChoice(const std::vector<std::string>& keep, const std::map<std::string, std::string>& schemes,
        const QString& description);

    JobContext m_context;
    SuggestPanel* m_view;
    const EvalPanel* m_evaluate;
    std::shared_ptr<const SuggestReport> m_report;
    std::shared_ptr<const SuggestionBudget> m_budget;
    std::string m_firstScheme;
};

} // namespace qs::app
