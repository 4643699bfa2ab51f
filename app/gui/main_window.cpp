// SPDX-License-Identifier: GPL-3.0-or-later
#include "main_window.h"
#include "project_controller.h"

#include "activation_capture_controller.h"
#include "algorithms_box.h"
#include "analysis_controller.h"
#include "compare_controller.h"
#include "demo/demo_model.h"
#include "evaluation_controller.h"
#include "suggest_controller.h"
#include "suggest_panel.h"
#include "export_controller.h"
#include "plot_all_controller.h"
#include "job_context.h"
#include "job_controller.h"
#include "job_status.h"
#include "keep_list_controller.h"
#include "layer_table.h"
#include "layer_table_controller.h"
#include "measured_preset_controller.h"
#include "module_tree_model.h"
#include "module_tree_pane.h"
#include "recent_files.h"
#include "rules_model.h"
#include "rules_panel.h"
#include "scheme_panel.h"
#include "selection_editor.h"

#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QItemSelectionModel>
#include <QLineEdit>
#include <QMessageBox>
#include <QMimeData>
#include <QScrollArea>
#include <QScrollBar>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>
#include <filesystem>

namespace qs::app {
namespace {

std::filesystem::path toPath(const QString& s)
{
    return std::filesystem::path(s.toStdString());
}

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
    , m_jobs(new JobController(this))
    , m_treeModel(new ui::ModuleTreeModel(this))
    , m_rulesModel(new ui::RulesModel(this))
{
    setWindowTitle(tr("QuantScope"));
    setAcceptDrops(true);

    m_pane = new ModuleTreePane(m_treeModel, m_rulesModel, this);
    m_selection = new SelectionEditor(m_treeModel, m_rulesModel, m_pane->rulesPanel(), this);
    m_tabs = new AnalysisTabs(this);
    auto* splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(m_pane);
    splitter->addWidget(m_tabs);
    splitter->setStretchFactor(0, 5);
    splitter->setStretchFactor(1, 6);
    setCentralWidget(splitter);

    createSchemeDock();
    createControllers();
    connectControllers();
    createActions();
    m_status = new JobStatus(m_jobs, statusBar(), this);

    connect(m_pane->treeView()->selectionModel(), &QItemSelectionModel::currentChanged, this,
        &MainWindow::onCurrentModuleChanged);
    connect(m_treeModel, &ui::ModuleTreeModel::keepChanged, this, &MainWindow::onKeepChanged);
    connect(m_jobs, &JobController::failed, this, &MainWindow::showError);
    connect(m_jobs, &JobController::refused, this,
        [this](const QString& title, const QString& message) { showError(title, message); });
    connect(m_jobs, &JobController::idle, this, &MainWindow::updateActions);
    connect(m_jobs, &JobController::started, this, &MainWindow::updateActions);

    resize(1280, 800);
    updateSummary();
    updateActions();
}

MainWindow::~MainWindow()
{
    m_jobs->cancel();
    m_jobs->waitForFinished();
}

QString MainWindow::demoDirectory()
{
    // ~/.cache/quantscope/demo-model (XDG_CACHE_HOME), whatever the organization name.
    return QDir(QStandardPaths::writableLocation(QStandardPaths::GenericCacheLocation))
        .filePath(QStringLiteral("quantscope/demo-model"));
}

QTreeView* MainWindow::treeView() const
{
    return m_pane->treeView();
}

ui::RulesPanel* MainWindow::rulesPanel() const
{
    return m_pane->rulesPanel();
}

QLineEdit* MainWindow::moduleFilter() const
{
    return m_pane->filter();
}

// The quantization scheme: a dock on the right, shared by the analysis and the export.
void MainWindow::createSchemeDock()
{
    m_schemeDock = new QDockWidget(tr("Quantization scheme"), this);
    m_schemeDock->setObjectName(QStringLiteral("schemeDock"));
    // The scheme, then the calibration that runs before it (Evaluate and Export both use it).
    auto* content = new QWidget;
    m_schemePanel = new ui::SchemePanel(content);
    m_algorithms = new AlgorithmsBox(content);
    auto* layout = new QVBoxLayout(content);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_schemePanel);
    layout->addWidget(m_algorithms);
    layout->addStretch(1);
    auto* scroll = new QScrollArea(m_schemeDock);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setWidget(content);
    // The dock is as wide as the panel (at most 300 px) and scrolls vertically when it is short.
    const int width = std::min(300, content->sizeHint().width());
    content->setMaximumWidth(300);
    scroll->setMinimumWidth(width + scroll->verticalScrollBar()->sizeHint().width());
    scroll->setMaximumWidth(300 + scroll->verticalScrollBar()->sizeHint().width());
    m_schemeDock->setWidget(scroll);
    m_schemeDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::RightDockWidgetArea, m_schemeDock);
    m_schemeDock->hide();
}

JobContext MainWindow::jobContext()
{
    JobContext context;
    context.jobs = m_jobs;
    context.model = [this] { return m_model; };
    context.modelPath = [this] { return m_modelPath; };
    context.scheme = [this] { return m_schemePanel->scheme(); };
    context.calibration = [this] { return m_algorithms->choice(); };
    context.setCalibrationSamples = [this](const QString& data, int samples, int seqLen) {
        m_algorithms->setCalibrationData(data);
        m_algorithms->setSamples(samples);
        m_algorithms->setSeqLen(seqLen);
    };
    context.selection = m_selection;
    context.project = [this] { return currentProject(); };
    context.show = [this](QWidget* view) { m_tabs->setCurrentWidget(view); };
    return context;
}

void MainWindow::createControllers()
{
    const JobContext context = jobContext();
    m_analysis = new AnalysisController(context, m_tabs->details(), this);
    m_layerTable = new LayerTableController(context, m_tabs->layers(), this);
    m_compare = new CompareController(context, m_tabs->compare(), this);
    m_evaluation = new EvaluationController(context, m_tabs->eval(), this);
    m_suggest = new SuggestController(context, m_tabs->suggest(), m_tabs->eval(), this);
    m_capture = new ActivationCaptureController(context, m_tabs->eval(), m_tabs->activations(), this);
    m_export = new ExportController(context, this, this);
    m_plotAll = new PlotAllController(context, this, this);
    m_measuredPresets = new MeasuredPresetController(context, this);
    m_keepLists = new KeepListController(context, this, this);
    // The views' state without a model.
    m_layerTable->onModelChanged();
    m_compare->onModelChanged();
    m_evaluation->onModelChanged();
    m_suggest->onModelChanged();
}

void MainWindow::connectControllers()
{
    connect(m_schemePanel, &ui::SchemePanel::schemeChanged, this, [this](const QuantScheme& scheme) {
        // The keep warnings follow the consumer the scheme is for.
        m_selection->setTarget(
            scheme.convention == ScaleConvention::CompressedTensors ? KeepTarget::CompressedTensors : KeepTarget::Nxd);
        m_analysis->onSchemeChanged(scheme);
        m_layerTable->onSchemeChanged(scheme);
        updateSummary();
    });
    connect(m_layerTable, &LayerTableController::measured, this, &MainWindow::layersMeasured);
    connect(m_evaluation, &EvaluationController::maxSeqLenChanged, m_algorithms, &AlgorithmsBox::setMaxSeqLen);
    connect(m_evaluation, &EvaluationController::moduleErrorsMeasured, this,
        [this](const QHash<QString, ui::LayerTableModel::CalibrationCells>& cells) {
            m_tabs->layers()->model()->setCalibration(cells);
        });
    connect(m_layerTable, &LayerTableController::moduleSelected, this, &MainWindow::selectModule);
    connect(m_layerTable, &LayerTableController::moduleActivated, this, [this](const QString& path) {
        selectModule(path);
        m_tabs->showTab(AnalysisTabs::Tab::Module);
    });
    connect(m_compare, &CompareController::failed, this, [this](const QString& message) { m_lastError = message; });
    connect(m_evaluation, &EvaluationController::evaluated, this, &MainWindow::evaluated);
    connect(m_suggest, &SuggestController::sensitivityMeasured, this,
        [this](const QHash<QString, double>& kl) { m_tabs->layers()->setSensitivity(kl); });
    connect(m_suggest, &SuggestController::suggested, this, &MainWindow::suggested);
    connect(m_suggest, &SuggestController::error, this,
        [this](const QString& title, const QString& message) { showError(title, message); });
    connect(m_evaluation, &EvaluationController::moduleActivated, this, &MainWindow::selectModule);
    connect(m_evaluation, &EvaluationController::error, this,
        [this](const QString& title, const QString& message) { showError(title, message); });
    connect(m_capture, &ActivationCaptureController::captured, this, &MainWindow::activationsCaptured);
    connect(m_capture, &ActivationCaptureController::error, this,
        [this](const QString& title, const QString& message) { showError(title, message); });
    connect(m_export, &ExportController::exported, this, [this](const QString& destination, const QString& summary) {
        m_status->setText(summary);
        Q_EMIT exportFinished(destination);
    });
    connect(m_plotAll, &PlotAllController::exported, this, [this](int images, const QString& folder) {
        m_status->setText(tr("Wrote %1 images to %2").arg(images).arg(folder));
        Q_EMIT plotsExported(folder, images);
    });
    connect(m_plotAll, &PlotAllController::error, this,
        [this](const QString& title, const QString& message) { showError(title, message); });
    connect(m_capture, &ActivationCaptureController::storedActivationsShown, this, [this](int points) {
        m_status->setText(tr("%1: %2 stored activations in the Activations tab")
                              .arg(QFileInfo(m_modelPath).fileName())
                              .arg(points));
        Q_EMIT storedActivationsShown(points);
    });
    connect(m_pane, &ModuleTreePane::keepRequested, this, &MainWindow::keepSelected);
    connect(m_pane->rulesPanel(), &ui::RulesPanel::importRequested, m_keepLists, &KeepListController::importList);
    connect(m_pane->rulesPanel(), &ui::RulesPanel::exportRequested, m_keepLists, &KeepListController::exportList);
    connect(m_keepLists, &KeepListController::wrote, this,
        [this](const QString& path) { m_status->setText(tr("Wrote %1").arg(path)); });
    connect(m_keepLists, &KeepListController::error, this,
        [this](const QString& title, const QString& message) { showError(title, message); });
}

void MainWindow::openPath(const QString& path)
{
    if (path.endsWith(QStringLiteral(".qsproj"), Qt::CaseInsensitive)) { // a project names its checkpoint
        openProject(path);
        return;
    }
    auto result = std::make_shared<LoadedModel>();
    const auto fsPath = toPath(path);
    m_jobs->start(
        tr("Opening %1").arg(QFileInfo(path).fileName()),
        [result, fsPath](Progress&) {
            result->checkpoint = Checkpoint::open(fsPath);
            result->tree = ModuleTree::build(result->checkpoint.tensors(), result->checkpoint.modelType());
        },
        [this, result, path] { setLoadedModel(result, path); });
}

void MainWindow::openDemo()
{
    const QString dir = demoDirectory();
    if (isCurrentDemoModel(toPath(dir))) {
        openPath(dir);
        return;
    }
    m_jobs->start(
        tr("Writing the demo model"), [dir](Progress&) { writeDemoModel(toPath(dir), /*overwrite=*/true); },
        [this, dir] { openPath(dir); });
}

void MainWindow::setLoadedModel(LoadedModelPtr model, const QString& path)
{
    m_model = std::move(model);
    m_modelPath = QFileInfo(path).absoluteFilePath();
    m_treeModel->setTree(m_model->tree);
    m_selection->setModel(&m_model->tree, m_modelPath);
    m_pane->filter()->clear();
    m_analysis->onModelChanged();
    m_layerTable->onModelChanged();
    m_compare->onModelChanged();
    m_evaluation->onModelChanged();
    m_suggest->onModelChanged();
    m_capture->onModelChanged();
    m_recent->add(m_modelPath);
    m_project->onModelOpened(m_modelPath); // applies a project being opened, or ends the last one
    updateTitle();
    // Show the first two levels (model -> layers) and the first layer's modules.
    const auto& quantizable = m_model->tree.quantizable();
    m_pane->showFirstLevels(quantizable.empty() ? -1 : quantizable.front());
    m_status->setText(tr("Opened %1: %2 tensors").arg(m_modelPath).arg(m_model->checkpoint.tensors().size()));
    updateSummary();
    updateActions();
    Q_EMIT modelOpened(m_modelPath);
}

void MainWindow::exportTo(
    const QString& destination, bool overwrite, const QString& format, const ExportCalibrationRequest& calibration)
{
    m_export->exportTo(destination, overwrite, format, calibration);
}

void MainWindow::exportAllPlots(const QString& folder, const QString& kind, const QString& filter)
{
    m_plotAll->exportAll(folder, kind, filter);
}

void MainWindow::measureLayers()
{
    m_layerTable->measure();
}

void MainWindow::compareWith(const QString& path)
{
    m_compare->compareWith(path);
}

void MainWindow::evaluate()
{
    m_evaluation->evaluate();
}

void MainWindow::suggest()
{
    m_suggest->suggest();
}

SuggestPanel* MainWindow::suggestPanel() const
{
    return m_tabs->suggest();
}

void MainWindow::compareRecipes()
{
    m_evaluation->compareRecipes();
}

void MainWindow::captureActivations()
{
    m_capture->capture();
}

bool MainWindow::selectModule(const QString& path)
{
    return m_pane->selectModule(path);
}

void MainWindow::onCurrentModuleChanged()
{
    const int node = m_pane->currentNode();
    if (node < 0 || !m_model)
        return;
    m_analysis->follow(node);
    m_layerTable->follow(node);
    m_compare->follow(node);
}

void MainWindow::onKeepChanged()
{
    updateSummary();
    m_layerTable->onKeepChanged();
    m_analysis->onKeepChanged(m_pane->currentNode());
}

void MainWindow::updateSummary()
{
    m_pane->showSummary(m_model.get(), m_modelPath);
}

void MainWindow::keepSelected(bool keep)
{
    const std::vector<int> nodes = m_pane->selectedModules();
    if (!nodes.empty())
        m_selection->setKept(nodes, keep);
}

void MainWindow::showError(const QString& title, const QString& message, const QString& details)
{
    m_lastError = message;
    m_status->setText(tr("%1 failed").arg(title));
    auto* box = new QMessageBox(QMessageBox::Critical, title, tr("%1 failed.").arg(title), QMessageBox::Ok, this);
    box->setInformativeText(message);
    if (!details.isEmpty())
        box->setDetailedText(details);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    Q_EMIT jobFailed(message);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls() && event->mimeData()->urls().first().isLocalFile())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const auto urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile())
        openPath(urls.first().toLocalFile());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    if (!m_project->maybeSave()) {
        event->ignore();
        return;
    }
    if (m_jobs->isBusy()) {
        m_jobs->cancel();
        m_jobs->waitForFinished();
    }
    event->accept();
}

} // namespace qs::app
