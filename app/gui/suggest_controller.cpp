// SPDX-License-Identifier: GPL-3.0-or-later
#include "suggest_controller.h"

#include "error.h"
#include "eval_panel.h"
#include "evaluation_request.h"
#include "job_controller.h"
#include "runtime/memory.h"
#include "runtime/suggestion_run.h"
#include "selection_editor.h"
#include "suggest_panel.h"
#include "suggestion_view.h"

#include <QStringList>

#include <set>

namespace qs::app {
namespace {

ExportFormat schemeConsumer(const QuantScheme& s)
{
    if (s.convention == ScaleConvention::CompressedTensors)
        return ExportFormat::CompressedTensors;
    if (s.convention == ScaleConvention::FmsMo)
        return ExportFormat::Aiu;
    return ExportFormat::Nxd;
}

} // namespace

SuggestController::SuggestController(JobContext context, SuggestPanel* view, const EvalPanel* evaluate, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
    , m_view(view)
    , m_evaluate(evaluate)
{
    connect(m_view, &SuggestPanel::runRequested, this, &SuggestController::suggest);
    connect(m_view->view(), &ui::SuggestionView::pointClicked, this, &SuggestController::applyCurvePoint);
}

void SuggestController::onModelChanged()
{
    m_report.reset();
    m_view->view()->clear(tr("Run Suggest to measure every module's sensitivity."));
    m_view->setResult({});
    Q_EMIT sensitivityMeasured({});
}

void SuggestController::suggest()
{
    const LoadedModelPtr model = m_context.model();
    if (!model)
        return;
    QString message;
    std::optional<EvaluationRequest> evaluation = evaluationRequestFromViews(m_context, *m_evaluate, message);
    if (!evaluation) {
        Q_EMIT error(tr("Suggest"), message);
        return;
    }
    SuggestRequest request;
    try {
        request.budget = m_view->budget();
        request.sensitivity.candidates = candidateSchemes(*evaluation->scheme, m_view->candidates().toStdString());
    } catch (const Error& e) {
        Q_EMIT error(tr("Suggest"), QString::fromUtf8(e.what()));
        return;
    }
    // The measurement and the choice cover every module: the current rules do not constrain them.
    evaluation->kept.clear();
    evaluation->moduleSchemes.clear();
    request.sensitivity.evaluation = *evaluation;
    request.sensitivity.mode = m_view->mode().toStdString();
    request.format = m_view->format(schemeConsumer(*evaluation->scheme));
    auto report = std::make_shared<SuggestReport>();
    auto budget = std::make_shared<SuggestionBudget>(request.budget);
    m_view->setStatus(tr("Measuring every module's sensitivity to %1 (%2), then verifying the choice …")
                          .arg(QString::fromStdString(evaluation->scheme->name), m_view->mode()));
    m_context.jobs->start(
        tr("Suggesting a keep list"),
        [model, request, report](Progress& progress) { *report = runSuggestion(model->checkpoint, request, progress); },
        [this, model, report, budget, first = evaluation->scheme->name] {
            if (model != m_context.model())
                return;
            m_report = report;
            m_budget = budget;
            m_firstScheme = first;
            showReport();
            applyChoice(report->keep, report->schemes, tr("Apply suggestion"));
            Q_EMIT suggested();
        });
}

void SuggestController::showReport()
{
    const SuggestReport& r = *m_report;
    QHash<QString, double> kl;
    std::vector<std::pair<QString, double>> bars;
    for (const ModuleSensitivity& m : r.sensitivity.modules) {
        if (m.scheme != m_firstScheme)
            continue;
        kl.insert(QString::fromStdString(m.name), m.kl);
        bars.emplace_back(QString::fromStdString(m.name), m.kl);
    }
    Q_EMIT sensitivityMeasured(kl);
    m_view->view()->setSensitivity(std::move(bars));
    m_view->view()->setCurve(r.curve, r.curveIndex, r.sensitivity.floatPerplexity);
    const Suggestion& p = r.chosen;
    const EvaluationReport& v = r.verified;
    QString text = tr("<b>Keep %1 module(s)</b> (%2 quantized) for %3.<br>"
                      "Predicted: perplexity %4 (%5%), KL %6, %7, %8 bits per weight.<br>"
                      "Verified: perplexity %9 (float %10, %11%), KL %12: <b>%13</b> the budget.")
                       .arg(r.keep.size())
                       .arg(r.schemes.size())
                       .arg(QString::fromStdString(describeBudget(*m_budget)).toHtmlEscaped())
                       .arg(p.perplexity, 0, 'f', 4)
                       .arg(100 * p.perplexityIncrease, 0, 'f', 3)
                       .arg(p.kl, 0, 'g', 4)
                       .arg(QString::fromStdString(formatBytes(p.bytes)))
                       .arg(p.bits, 0, 'f', 2)
                       .arg(v.perplexity, 0, 'f', 4)
                       .arg(v.floatPerplexity, 0, 'f', 4)
                       .arg(100 * (v.perplexity / v.floatPerplexity - 1), 0, 'f', 3)
                       .arg(v.klDivergence, 0, 'g', 4)
                       .arg(r.verifiedMeetsBudget ? tr("meets") : tr("misses"));
    for (const std::string& n : r.notes)
        text += QStringLiteral("<br>") + QString::fromStdString(n).toHtmlEscaped();
    m_view->setResult(text);
    m_view->setStatus(tr("Measured %1 modules (%2 mode) in %3 s, verified in %4 s; the choice is applied as "
                         "\"suggested\" rules (Edit ▸ Undo restores the previous ones). Click a point of the curve "
                         "to apply another.")
                          .arg(kl.size())
                          .arg(QString::fromStdString(r.sensitivity.mode))
                          .arg(r.sensitivity.seconds, 0, 'f', 1)
                          .arg(v.seconds, 0, 'f', 1));
}

void SuggestController::applyCurvePoint(int index)
{
    if (!m_report || index < 0 || index >= static_cast<int>(m_report->curve.size()))
        return;
    const SuggestReport& r = *m_report;
    const std::vector<int> order = sensitivityOrder(r.problem, *m_budget);
    std::set<std::string> kept(r.headModules.begin(), r.headModules.end());
    std::map<std::string, std::string> schemes;
    for (std::size_t i = 0; i < order.size(); ++i) {
        const SuggestionUnit& unit = r.problem.units[static_cast<std::size_t>(order[i])];
        for (const std::string& m : unit.modules) {
            if (static_cast<int>(i) < index)
                kept.insert(m);
            else
                schemes[m] = unit.options.front().scheme;
        }
    }
    applyChoice(std::vector<std::string>(kept.begin(), kept.end()), schemes,
        tr("Apply the curve's point: %1 most sensitive kept").arg(index));
    m_view->view()->setSelected(index);
}

void SuggestController::applyChoice(
    const std::vector<std::string>& keep, const std::map<std::string, std::string>& schemes, const QString& description)
{
    std::vector<SelectionRule> rules;
    for (const std::string& k : keep)
        rules.push_back({ RuleSyntax::Module, k, RuleAction::Keep, {}, "suggested" });
    for (const auto& [module, scheme] : schemes) {
        if (scheme != m_firstScheme)
            rules.push_back({ RuleSyntax::Module, module, RuleAction::Quantize, scheme, "suggested" });
    }
    m_context.selection->setRules(rules, description);
}

} // namespace qs::app
