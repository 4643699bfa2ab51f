// SPDX-License-Identifier: GPL-3.0-or-later
#include "evaluation_controller.h"

#include "error.h"
#include "eval_panel.h"
#include "evaluation_request.h"
#include "job_controller.h"
#include "models/model_config.h"
#include "divergence_view.h"
#include "runtime/evaluation.h"
#include "runtime/memory.h"
#include "runtime/recipe_comparison.h"
#include "selection_editor.h"

#include <QChar>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>

namespace qs::app {
namespace {

std::string joinedNames(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& n : names)
        out += (out.empty() ? "" : ", ") + n;
    return out;
}

} // namespace

EvaluationController::EvaluationController(JobContext context, EvalPanel* view, QObject* parent)
    : QObject(parent)
    , m_context(std::move(context))
    , m_view(view)
{
    connect(m_view, &EvalPanel::runRequested, this, &EvaluationController::evaluate);
    connect(m_view, &EvalPanel::compareRequested, this, &EvaluationController::compareRecipes);
    connect(m_view->divergence(), &ui::DivergenceView::moduleActivated, this, &EvaluationController::moduleActivated);
}

void EvaluationController::onModelChanged()
{
    // What the Evaluate tab can run: the window fits the model's positions; a model the
    // runtime does not run says why before anyone presses Evaluate.
    m_view->clearResults();
    m_moduleErrors.clear();
    Q_EMIT moduleErrorsMeasured(m_moduleErrors);
    m_view->setResultsKey({});
    m_view->divergence()->showMessage(tr("Evaluate with a scheme to see, layer by layer, how far the quantized "
                                         "model's hidden states move from the float model's."));
    const LoadedModelPtr model = m_context.model();
    if (!model)
        return;
    try {
        const ModelConfig config = modelConfigFromJson(model->checkpoint.config());
        // An encoder's windows also hold [CLS] and [SEP].
        const std::int64_t positions = config.causal() ? config.maxPositions : config.maxPositions - 2;
        m_view->setMaxSeqLen(static_cast<int>(std::min<std::int64_t>(positions, 1 << 20)));
        Q_EMIT maxSeqLenChanged(static_cast<int>(std::min<std::int64_t>(positions, 1 << 20)));
        m_view->setStatus(config.causal()
                ? tr("%1 decoder: perplexity on windows of the data.").arg(QString::fromStdString(config.modelType))
                : tr("%1 encoder: masked-LM pseudo-perplexity (every token masked once).")
                      .arg(QString::fromStdString(config.modelType)));
    } catch (const Error& e) {
        m_view->setStatus(tr("This model cannot run here: %1").arg(QString::fromUtf8(e.what())));
    }
}

bool EvaluationController::request(EvaluationRequest& request, const QString& title)
{
    QString message;
    std::optional<EvaluationRequest> r = evaluationRequestFromViews(m_context, *m_view, message);
    if (!r) {
        Q_EMIT error(title, message);
        return false;
    }
    request = std::move(*r);
    return true;
}

// Runs on the same data, windows and protocol add their rows to the table.
QString EvaluationController::resultsKey(const EvaluationRequest& request) const
{
    return QStringList { m_context.modelPath(), m_view->dataFile(), QString::number(request.seqLen),
        QString::number(request.maxWindows), m_view->protocol() }
        .join(QChar(0x1f));
}

void EvaluationController::evaluate()
{
    const LoadedModelPtr model = m_context.model();
    EvaluationRequest request;
    if (!model || !this->request(request, tr("Evaluate")))
        return;
    const QString key = resultsKey(request);
    auto report = std::make_shared<EvaluationReport>();
    m_view->setStatus(tr("Running the float model and %1 …").arg(QString::fromStdString(request.scheme->name)));
    m_context.jobs->start(
        tr("Evaluating"),
        [model, request, report](
            Progress& progress) { *report = evaluateCheckpoint(model->checkpoint, request, progress); },
        [this, model, report, key, kept = static_cast<int>(request.kept.size()),
            algorithms = m_context.calibration().summary] {
            if (model != m_context.model()) // another checkpoint was opened meanwhile: a stale result
                return;
            showReport(*report, key, kept, algorithms);
            Q_EMIT evaluated();
        });
}

void EvaluationController::compareRecipes()
{
    const LoadedModelPtr model = m_context.model();
    EvaluationRequest request;
    if (!model || !this->request(request, tr("Compare Recipes")))
        return;
    std::vector<RecipeCandidate> candidates;
    try {
        candidates = parseRecipeCandidates(defaultRecipeCandidates());
    } catch (const Error& e) {
        Q_EMIT error(tr("Compare Recipes"), QString::fromUtf8(e.what()));
        return;
    }
    const QString key = resultsKey(request);
    auto rows = std::make_shared<std::vector<RecipeComparisonRow>>();
    m_view->setStatus(tr("Comparing %1 recipes for %2 …").arg(candidates.size()).arg(QString::fromStdString(request.scheme->name)));
    m_context.jobs->start(
        tr("Comparing recipes"),
        [model, request, candidates, rows](
            Progress& progress) { *rows = qs::compareRecipes(model->checkpoint, request, candidates, progress); },
        [this, model, rows, key, kept = static_cast<int>(request.kept.size())] {
            if (model != m_context.model())
                return;
            QStringList errors;
            QString best;
            double bestKl = 0;
            for (const RecipeComparisonRow& r : *rows) {
                const QString name = QString::fromStdString(r.name);
                if (!r.error.empty()) {
                    errors << tr("%1: %2").arg(name, QString::fromStdString(r.error));
                    continue;
                }
                showReport(r.report, key, kept, name, r.seconds, r.peakRssBytes);
                if (best.isEmpty() || r.report.klDivergence < bestKl) {
                    best = name;
                    bestKl = r.report.klDivergence;
                }
            }
            QString status = best.isEmpty() ? tr("No recipe could run.") : tr("Best (lowest KL): %1.").arg(best);
            if (!errors.isEmpty())
                status += tr(" Not run: %1").arg(errors.join(QStringLiteral("; ")));
            m_view->setStatus(status);
            Q_EMIT evaluated();
        });
}

void EvaluationController::showReport(const EvaluationReport& report, const QString& key, int kept,
    const QString& algorithms, double seconds, std::uint64_t peakBytes)
{
    if (!m_view->hasFloatRow(key)) {
        m_view->clearResults();
        m_view->setResultsKey(key);
        EvalPanel::Row f;
        f.model = QStringLiteral("float");
        f.perplexity = report.floatPerplexity;
        f.tokens = report.tokens;
        m_view->addResult(f);
    }
    EvalPanel::Row q;
    q.model = QString::fromStdString(report.schemeName);
    if (report.activations != "none")
        q.model += QStringLiteral(" · %1").arg(QString::fromStdString(report.activations));
    if (!algorithms.isEmpty())
        q.model += QStringLiteral(" · %1").arg(algorithms);
    q.perplexity = report.perplexity;
    q.tokens = report.tokens;
    q.change = report.perplexity / report.floatPerplexity - 1;
    q.kl = report.klDivergence;
    q.top1 = report.top1Agreement;
    q.kept = kept;
    q.seconds = seconds >= 0 ? seconds : report.seconds;
    q.peakBytes = peakBytes > 0 ? peakBytes : report.peakRssBytes;
    m_view->addResult(q);
    for (const ModuleDivergence& m : report.modules) {
        auto& cells = m_moduleErrors[QString::fromStdString(m.module)];
        if (report.algorithms.empty()) {
            cells.rtnError = m.ownRelativeMse;
        } else {
            cells.calibratedError = m.ownRelativeMse;
            const auto loss = report.gptqLoss.find(m.module);
            cells.gptqLoss = loss != report.gptqLoss.end() ? loss->second : std::nan("");
        }
    }
    Q_EMIT moduleErrorsMeasured(m_moduleErrors);
    m_view->divergence()->setDivergence(
        tr("Error along the depth: %1").arg(QString::fromStdString(report.schemeName)), report.blocks, report.modules);
    QString status = tr("%1 %2 tokens scored in %3 windows (%4 tokens of data, %5 protocol).")
                         .arg(report.protocol == "masked" ? tr("Masked-LM pseudo-perplexity:") : QString())
                         .arg(report.tokens)
                         .arg(report.windows)
                         .arg(report.dataTokens)
                         .arg(QString::fromStdString(report.protocol));
    if (report.quantizedModules == 0)
        status += tr(" No Linear module is quantized: this model has none that an export converts, or all are kept.");
    if (report.calibrationWindows > 0)
        status += tr(" Calibrated (%1) on %2 windows.")
                      .arg(report.algorithms.empty() ? tr("static activation ranges")
                                                     : QString::fromStdString(joinedNames(report.algorithms)))
                      .arg(report.calibrationWindows);
    if (const auto& q = report.spinQuant) {
        status += tr(" SpinQuant: %1 steps on %2 samples, loss %3 → %4 in %5 s%6.")
                      .arg(q->steps)
                      .arg(q->samples)
                      .arg(q->initialLoss, 0, 'f', 4)
                      .arg(q->finalLoss, 0, 'f', 4)
                      .arg(q->seconds, 0, 'f', 1)
                      .arg(q->keptStart ? tr(" (above the start: the start rotation is kept)") : QString());
    }
    for (const std::string& w : report.warnings)
        status += tr(" Warning: %1.").arg(QString::fromStdString(w));
    status += tr(" Ran layer by layer in %1 s (peak memory %2, %3 of hidden states%4).")
                  .arg(report.seconds, 0, 'f', 1)
                  .arg(QString::fromStdString(formatBytes(report.peakRssBytes)))
                  .arg(QString::fromStdString(formatBytes(report.hiddenBytes)))
                  .arg(report.spilledBytes > 0
                          ? tr(", %1 spilled to disk").arg(QString::fromStdString(formatBytes(report.spilledBytes)))
                          : QString());
    m_view->setStatus(status.trimmed());
}

} // namespace qs::app
