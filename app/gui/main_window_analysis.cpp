// MainWindow's analysis tabs: the selected module's views, the layer table (every quantizable
// module measured with the current scheme, a job) and the comparison with a second checkpoint.
#include "activation_panel.h"
#include "compare_panel.h"
#include "error.h"
#include "eval_panel.h"
#include "job_controller.h"
#include "layer_table.h"
#include "main_window.h"
#include "models/model_config.h"
#include "module_details_panel.h"
#include "module_tree_model.h"
#include "runtime/calibration.h"
#include "runtime/evaluation.h"
#include "scheme_panel.h"
#include "selection_editor.h"
#include "stats/module_errors.h"

#include <QTabWidget>

namespace qs::app {

QWidget* MainWindow::createAnalysisTabs()
{
    m_analysisTabs = new QTabWidget(this);
    m_analysisTabs->setObjectName(QStringLiteral("analysisTabs"));
    m_analysisTabs->setDocumentMode(true);
    m_layers = new ui::LayerTable(this);
    m_layers->setObjectName(QStringLiteral("layerTable"));
    m_compare = new ComparePanel(this);
    m_compare->setObjectName(QStringLiteral("comparePanel"));
    m_analysisTabs->addTab(m_details, tr("Module"));
    m_analysisTabs->addTab(m_layers, tr("Layer table"));
    m_analysisTabs->addTab(m_compare, tr("Compare"));
    m_eval = new EvalPanel(this);
    m_eval->setObjectName(QStringLiteral("evalPanel"));
    m_analysisTabs->addTab(m_eval, tr("Evaluate"));
    m_analysisTabs->setTabToolTip(3, tr("Perplexity of the float and the quantized model on text"));
    connect(m_eval, &EvalPanel::runRequested, this, &MainWindow::evaluate);
    connect(m_eval, &EvalPanel::captureRequested, this, &MainWindow::captureActivations);
    m_activations = new ActivationPanel(this);
    m_activations->setObjectName(QStringLiteral("activationPanel"));
    m_analysisTabs->addTab(m_activations, tr("Activations"));
    m_analysisTabs->setTabToolTip(4, tr("Calibration captures: activation histograms, ranges and heatmaps per point"));
    connect(m_activations, &ActivationPanel::failed, this,
        [this](const QString& message) { showError(tr("Activations"), message); });
    m_analysisTabs->setTabToolTip(0, tr("The selected module's distribution, codes, heatmap and channels"));
    m_analysisTabs->setTabToolTip(1, tr("Every quantizable module's error under the current scheme, sortable"));
    m_analysisTabs->setTabToolTip(2, tr("The same tensor in a second checkpoint, e.g. an export of this one"));

    connect(m_layers, &ui::LayerTable::measureRequested, this, &MainWindow::measureLayers);
    connect(m_layers, &ui::LayerTable::moduleActivated, this, [this](int node) {
        if (!m_model || node < 0 || node >= m_model->tree.size())
            return;
        selectModule(QString::fromStdString(m_model->tree.node(node).path));
        m_analysisTabs->setCurrentWidget(m_details);
    });
    connect(m_layers, &ui::LayerTable::moduleSelected, this, [this](int node) {
        if (m_model && node >= 0 && node < m_model->tree.size())
            selectModule(QString::fromStdString(m_model->tree.node(node).path));
    });
    connect(m_compare, &ComparePanel::failed, this, [this](const QString& message) { m_lastError = message; });
    onAnalysisModelChanged();
    return m_analysisTabs;
}

QSet<QString> MainWindow::keptModuleSet() const
{
    const QStringList kept = m_treeModel->keptModules();
    return QSet<QString>(kept.begin(), kept.end());
}

void MainWindow::onAnalysisModelChanged()
{
    m_layers->setRows({});
    m_layers->setStatus(m_model ? tr("Measure to fill the table: each Linear weight quantized with %1.")
                                      .arg(QString::fromStdString(m_schemePanel ? m_schemePanel->scheme().name : ""))
                                : tr("Open a checkpoint first."));
    if (m_model)
        m_layers->setKept(keptModuleSet());
    m_compare->setModel(m_model, m_modelPath);
    // What the Evaluate tab can run: the window fits the model's positions; a model the
    // runtime does not run says why before anyone presses Evaluate.
    m_eval->clearResults();
    m_eval->setResultsKey({});
    if (!m_model)
        return;
    try {
        const ModelConfig config = modelConfigFromJson(m_model->checkpoint.config());
        // An encoder's windows also hold [CLS] and [SEP].
        const std::int64_t positions = config.causal() ? config.maxPositions : config.maxPositions - 2;
        m_eval->setMaxSeqLen(static_cast<int>(std::min<std::int64_t>(positions, 1 << 20)));
        m_eval->setStatus(config.causal()
                ? tr("%1 decoder: perplexity on windows of the data.").arg(QString::fromStdString(config.modelType))
                : tr("%1 encoder: masked-LM pseudo-perplexity (every token masked once).")
                      .arg(QString::fromStdString(config.modelType)));
    } catch (const Error& e) {
        m_eval->setStatus(tr("This model cannot run here: %1").arg(QString::fromUtf8(e.what())));
    }
}

void MainWindow::followModuleInAnalysis(int node)
{
    m_layers->selectNode(node);
    if (!m_model)
        return;
    const ModuleNode& n = m_model->tree.node(node);
    if (!n.tensors.empty()) {
        const std::string weight = n.path + ".weight";
        const bool hasWeight = std::find(n.tensors.begin(), n.tensors.end(), weight) != n.tensors.end();
        m_compare->compare(QString::fromStdString(hasWeight ? weight : n.tensors.front()));
    }
}

void MainWindow::measureLayers()
{
    if (!m_model || m_model->tree.quantizable().empty())
        return;
    auto model = m_model;
    const QuantScheme scheme = m_schemePanel->scheme();
    auto rows = std::make_shared<std::vector<LayerError>>();
    const QString schemeName = QString::fromStdString(scheme.name);
    m_layers->setStatus(tr("Measuring every Linear weight with %1 …").arg(schemeName));
    const bool started = m_jobs->start(
        tr("Measuring layers"),
        [model, scheme, rows](
            Progress& progress) { *rows = measureLayerErrors(model->checkpoint, model->tree, scheme, progress); },
        [this, rows, schemeName, model] {
            if (model != m_model)
                return; // another model was opened meanwhile
            const int count = static_cast<int>(rows->size());
            m_layers->setRows(std::move(*rows));
            m_layers->setStatus(
                tr("%1 modules measured with %2. Click a row to see its views.").arg(count).arg(schemeName));
            m_analysisTabs->setCurrentWidget(m_layers);
            Q_EMIT layersMeasured(count);
        });
    if (!started)
        showError(tr("Busy"), tr("Wait for \"%1\" to finish or cancel it first.").arg(m_jobs->title()));
}

void MainWindow::compareWith(const QString& path)
{
    if (!m_model)
        return;
    m_analysisTabs->setCurrentWidget(m_compare);
    m_compare->openOther(path);
}

void MainWindow::evaluate()
{
    if (!m_model)
        return;
    if (m_eval->dataFile().isEmpty()) {
        showError(
            tr("Evaluate"), tr("Choose a data file first: token ids (.json), JSON lines with \"text\", or text."));
        return;
    }
    EvaluationRequest request;
    request.data = m_eval->dataFile().toStdString();
    request.seqLen = m_eval->seqLen();
    request.maxWindows = m_eval->maxWindows();
    request.protocol = m_eval->protocol().toStdString();
    request.calibrationSamples = m_eval->samples();
    request.scheme = m_schemePanel->scheme();
    for (const auto& path : m_treeModel->keptModules())
        request.kept.insert(path.toStdString());
    for (const auto& d : m_selection->result().modules) { // quantize rules with their own scheme
        if (!d.keep && !d.scheme.empty()) {
            if (const auto preset = findSchemePreset(d.scheme))
                request.moduleSchemes[m_model->tree.node(d.module).path] = *preset;
        }
    }
    // Runs on the same data, windows and protocol add their scheme's row to the table.
    const QString key = QStringList { m_modelPath, m_eval->dataFile(), QString::number(request.seqLen),
        QString::number(request.maxWindows), m_eval->protocol() }
                            .join(QChar(0x1f));
    auto model = m_model;
    auto report = std::make_shared<EvaluationReport>();
    m_eval->setStatus(tr("Running the float model and %1 …").arg(QString::fromStdString(request.scheme->name)));
    const bool started = m_jobs->start(
        tr("Evaluating"),
        [model, request, report](
            Progress& progress) { *report = evaluateCheckpoint(model->checkpoint, request, progress); },
        [this, model, report, key, kept = static_cast<int>(request.kept.size())] {
            if (model != m_model) // another checkpoint was opened meanwhile: a stale result
                return;
            if (!m_eval->hasFloatRow(key)) {
                m_eval->clearResults();
                m_eval->setResultsKey(key);
                EvalPanel::Row f;
                f.model = QStringLiteral("float");
                f.perplexity = report->floatPerplexity;
                f.tokens = report->tokens;
                m_eval->addResult(f);
            }
            EvalPanel::Row q;
            q.model = QString::fromStdString(report->schemeName);
            if (report->activations != "none")
                q.model += QStringLiteral(" · %1").arg(QString::fromStdString(report->activations));
            q.perplexity = report->perplexity;
            q.tokens = report->tokens;
            q.change = report->perplexity / report->floatPerplexity - 1;
            q.kl = report->klDivergence;
            q.top1 = report->top1Agreement;
            q.kept = kept;
            m_eval->addResult(q);
            QString status = tr("%1 %2 tokens scored in %3 windows (%4 tokens of data, %5 protocol).")
                                 .arg(report->protocol == "masked" ? tr("Masked-LM pseudo-perplexity:") : QString())
                                 .arg(report->tokens)
                                 .arg(report->windows)
                                 .arg(report->dataTokens)
                                 .arg(QString::fromStdString(report->protocol));
            if (report->quantizedModules == 0)
                status += tr(" No Linear module is quantized: this model has none that an export converts "
                             "(GPT-2's Conv1D modules stay in full precision), or all are kept.");
            if (report->calibrationWindows > 0)
                status += tr(" Static activation ranges from %1 calibration windows.").arg(report->calibrationWindows);
            m_eval->setStatus(status.trimmed());
            Q_EMIT evaluated();
        });
    if (!started)
        showError(tr("Busy"), tr("Wait for \"%1\" to finish or cancel it first.").arg(m_jobs->title()));
}

void MainWindow::captureActivations()
{
    if (!m_model)
        return;
    if (m_eval->dataFile().isEmpty()) {
        showError(tr("Capture"), tr("Choose a data file first in the Evaluate tab."));
        return;
    }
    CalibrationRequest request;
    request.data = m_eval->dataFile().toStdString();
    request.seqLen = m_eval->seqLen();
    request.samples = m_eval->samples();
    request.seed = static_cast<std::uint64_t>(m_eval->calibrationSeed());
    auto model = m_model;
    auto result = std::make_shared<CalibrationResult>();
    m_eval->setStatus(tr("Capturing activations on %1 windows …").arg(request.samples));
    const bool started = m_jobs->start(
        tr("Capturing activations"),
        [model, request, result](Progress& progress) { *result = calibrate(model->checkpoint, request, progress); },
        [this, model, result, source = m_eval->dataFile()] {
            if (model != m_model) // another checkpoint was opened meanwhile
                return;
            const int count = static_cast<int>(result->points.size());
            m_eval->setStatus(tr("%1 capture points over %2 tokens (%3 windows).")
                                  .arg(count)
                                  .arg(result->tokens)
                                  .arg(result->windows));
            m_activations->setCapture(
                std::make_shared<const std::vector<ActivationStats>>(std::move(result->points)), source);
            m_analysisTabs->setCurrentWidget(m_activations);
            Q_EMIT activationsCaptured(count);
        });
    if (!started)
        showError(tr("Busy"), tr("Wait for \"%1\" to finish or cancel it first.").arg(m_jobs->title()));
}

} // namespace qs::app
