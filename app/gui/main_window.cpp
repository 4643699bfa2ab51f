#include "main_window.h"

#include "demo/demo_model.h"
#include "error.h"
#include "eval_panel.h"
#include "export_dialog.h"
#include "format.h"
#include "io/checkpoint_summary.h"
#include "job_controller.h"
#include "jobs/conversion_job.h"
#include "layer_table.h"
#include "module_details_panel.h"
#include "module_tree_model.h"
#include "recent_files.h"
#include "rules_model.h"
#include "rules_panel.h"
#include "scheme_panel.h"
#include "select/keep_list_io.h"
#include "selection_editor.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QStyle>
#include <QToolBar>
#include <QTreeView>
#include <QUndoStack>
#include <QVBoxLayout>

#include <algorithm>
#include <set>

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
    , m_tree(new QTreeView(this))
    , m_details(new ModuleDetailsPanel(this))
    , m_summary(new QLabel(this))
    , m_filter(new QLineEdit(this))
    , m_rulesModel(new ui::RulesModel(this))
{
    setWindowTitle(tr("QuantScope"));
    setAcceptDrops(true);

    m_tree->setModel(m_treeModel);
    m_tree->setUniformRowHeights(true);
    m_tree->setAlternatingRowColors(true);
    m_tree->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_tree->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_tree->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_tree, &QWidget::customContextMenuRequested, this, &MainWindow::showTreeMenu);
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
    m_filter->setObjectName(QStringLiteral("moduleFilter"));
    m_filter->setPlaceholderText(tr("Filter modules (part of a name, e.g. mlp or layers.3)"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, this, &MainWindow::applyFilter);
    m_summary->setObjectName(QStringLiteral("summary"));
    m_summary->setWordWrap(true);
    m_summary->setTextFormat(Qt::RichText);

    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(6, 6, 0, 0);
    leftLayout->addWidget(m_summary);
    leftLayout->addWidget(m_filter);
    // The tree above the keep rules that decide its check boxes.
    m_rulesPanel = new ui::RulesPanel(m_rulesModel, left);
    m_rulesPanel->setObjectName(QStringLiteral("rulesPanel"));
    m_selection = new SelectionEditor(m_treeModel, m_rulesModel, m_rulesPanel, this);
    connect(m_rulesPanel, &ui::RulesPanel::importRequested, this, &MainWindow::importKeepList);
    connect(m_selection, &SelectionEditor::measurementRequested, this, &MainWindow::measureAndKeep);
    connect(m_rulesPanel, &ui::RulesPanel::exportRequested, this, &MainWindow::exportKeepList);
    auto* leftSplitter = new QSplitter(Qt::Vertical, left);
    leftSplitter->addWidget(m_tree);
    leftSplitter->addWidget(m_rulesPanel);
    leftSplitter->setStretchFactor(0, 3);
    leftSplitter->setStretchFactor(1, 2);
    leftLayout->addWidget(leftSplitter, 1);

    auto* splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(left);
    splitter->addWidget(createAnalysisTabs());
    splitter->setStretchFactor(0, 5);
    splitter->setStretchFactor(1, 6);
    setCentralWidget(splitter);

    // The quantization scheme: a dock on the right, shared by the analysis and the export.
    m_schemeDock = new QDockWidget(tr("Quantization scheme"), this);
    m_schemeDock->setObjectName(QStringLiteral("schemeDock"));
    m_schemePanel = new ui::SchemePanel(m_schemeDock);
    m_schemeDock->setWidget(m_schemePanel);
    m_schemePanel->setMaximumWidth(300);
    m_schemeDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::RightDockWidgetArea, m_schemeDock);
    m_schemeDock->hide();
    connect(m_schemePanel, &ui::SchemePanel::schemeChanged, this, [this](const QuantScheme& scheme) {
        // The keep warnings follow the consumer the scheme is for.
        m_selection->setTarget(
            scheme.convention == ScaleConvention::CompressedTensors ? KeepTarget::CompressedTensors : KeepTarget::Nxd);
        m_details->setScheme(scheme);
        m_layers->setStatus(tr("Measure to fill the table with %1.").arg(QString::fromStdString(scheme.name)));
        updateSummary();
    });

    createActions();
    createStatusBar();

    connect(m_tree->selectionModel(), &QItemSelectionModel::currentChanged, this, &MainWindow::onCurrentModuleChanged);
    connect(m_treeModel, &ui::ModuleTreeModel::keepChanged, this, [this] {
        updateSummary();
        m_layers->setKept(keptModuleSet());
        const QModelIndex current = m_tree->currentIndex();
        if (current.isValid()) {
            const int node = m_treeModel->nodeOf(current);
            m_details->setKept(m_treeModel->tree().isQuantizable(node)
                && m_treeModel->keptModules().contains(QString::fromStdString(m_treeModel->tree().node(node).path)));
        }
    });
    connect(m_jobs, &JobController::failed, this, &MainWindow::showError);
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
    return QDir(QStandardPaths::writableLocation(QStandardPaths::CacheLocation)).filePath(QStringLiteral("demo-model"));
}

void MainWindow::createActions()
{
    auto* file = menuBar()->addMenu(tr("&File"));
    m_openFile = file->addAction(
        style()->standardIcon(QStyle::SP_DialogOpenButton), tr("&Open File…"), this, &MainWindow::chooseFile);
    m_openFile->setShortcut(QKeySequence::Open);
    m_openFile->setToolTip(tr("Open a checkpoint file: safetensors, PyTorch .pt/.bin (state dict, nanoGPT ckpt.pt, AIU "
                              "qmodel), llama2.c .bin, or an index"));
    m_openFolder = file->addAction(
        style()->standardIcon(QStyle::SP_DirOpenIcon), tr("Open &Folder…"), this, &MainWindow::chooseFolder);
    m_openFolder->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
    m_openFolder->setToolTip(tr("Open a Hugging Face model folder"));
    auto* recentMenu = file->addMenu(tr("Open &Recent"));
    m_recent = new RecentFiles(recentMenu, this);
    connect(m_recent, &RecentFiles::openRequested, this, &MainWindow::openPath);
    m_openDemo = file->addAction(tr("Open &Demo Model"), this, &MainWindow::openDemo);
    file->addSeparator();
    m_export = file->addAction(
        style()->standardIcon(QStyle::SP_DialogSaveButton), tr("&Export…"), this, &MainWindow::showExportDialog);
    m_export->setShortcut(QKeySequence(tr("Ctrl+E")));
    m_export->setToolTip(tr("Write a quantized checkpoint with the current keep selection"));
    file->addSeparator();
    m_compareAction = file->addAction(tr("&Compare With…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Compare with a checkpoint"), QString(),
            tr("Checkpoints (*.safetensors *.index.json *.pt *.pth *.bin *.ckpt);;All files (*)"));
        if (!path.isEmpty())
            compareWith(path);
    });
    m_compareAction->setToolTip(tr("Overlay the same tensors of a second checkpoint, e.g. an export of this one"));
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    auto* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = m_selection->undoStack()->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = m_selection->undoStack()->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addSeparator();
    edit->addAction(tr("&Keep Selected Modules"), this, [this] { keepSelected(true); });
    edit->addAction(tr("&Quantize Selected Modules"), this, [this] { keepSelected(false); });
    edit->addAction(tr("&Find Module"), this, [this] { m_filter->setFocus(); })->setShortcut(QKeySequence::Find);

    auto* view = menuBar()->addMenu(tr("&View"));
    QAction* schemeAction = m_schemeDock->toggleViewAction();
    schemeAction->setText(tr("Quantization &Scheme"));
    schemeAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_K));
    view->addAction(schemeAction);
    view->addSeparator();
    view->addAction(tr("&Module Views"), this, [this] { m_analysisTabs->setCurrentIndex(0); })
        ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_1));
    view->addAction(tr("&Layer Table"), this, [this] { m_analysisTabs->setCurrentIndex(1); })
        ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_2));
    view->addAction(tr("&Compare"), this, [this] { m_analysisTabs->setCurrentIndex(2); })
        ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_3));
    view->addAction(tr("&Evaluate"), this, [this] { m_analysisTabs->setCurrentIndex(3); })
        ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_4));
    view->addAction(tr("Ac&tivations"), this, [this] { m_analysisTabs->setCurrentIndex(4); })
        ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_5));
    m_measureAction = view->addAction(tr("Measure &All Layers"), this, &MainWindow::measureLayers);

    auto* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About QuantScope"), this, [this] {
        QMessageBox::about(this, tr("About QuantScope"),
            tr("<b>QuantScope %1</b><p>Choose which layers stay in full precision, quantize the rest, "
               "check the result and export a checkpoint your serving stack loads.</p>")
                .arg(QApplication::applicationVersion()));
    });

    auto* toolbar = addToolBar(tr("Main"));
    toolbar->setObjectName(QStringLiteral("mainToolbar"));
    toolbar->setMovable(false);
    toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toolbar->addAction(m_openFile);
    toolbar->addAction(m_openFolder);
    toolbar->addAction(m_export);
}

void MainWindow::createStatusBar()
{
    m_statusText = new QLabel(tr("Ready"), this);
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1000);
    m_progress->setMaximumWidth(260);
    m_progress->setTextVisible(false);
    m_cancel = new QPushButton(tr("Cancel"), this);
    statusBar()->addWidget(m_statusText, 1);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancel);
    m_progress->hide();
    m_cancel->hide();

    connect(m_cancel, &QPushButton::clicked, m_jobs, &JobController::cancel);
    connect(m_jobs, &JobController::started, this, [this](const QString& title) {
        m_statusText->setText(title + QStringLiteral("…"));
        m_progress->setValue(0);
        m_progress->show();
        m_cancel->show();
    });
    connect(m_jobs, &JobController::progressChanged, this, [this](int value, const QString& text) {
        m_progress->setValue(value);
        m_statusText->setText(
            text.isEmpty() ? m_jobs->title() + QStringLiteral("…") : m_jobs->title() + QStringLiteral(": ") + text);
    });
    connect(m_jobs, &JobController::cancelled, this,
        [this](const QString& title) { m_statusText->setText(tr("%1: cancelled, nothing was written").arg(title)); });
    connect(m_jobs, &JobController::idle, this, [this] {
        m_progress->hide();
        m_cancel->hide();
    });
}

void MainWindow::openPath(const QString& path)
{
    auto result = std::make_shared<LoadedModel>();
    const auto fsPath = toPath(path);
    const bool started = m_jobs->start(
        tr("Opening %1").arg(QFileInfo(path).fileName()),
        [result, fsPath](Progress&) {
            result->checkpoint = Checkpoint::open(fsPath);
            result->tree = ModuleTree::build(result->checkpoint.tensors(), result->checkpoint.modelType());
        },
        [this, result, path] { setLoadedModel(result, path); });
    if (!started)
        showError(tr("Busy"), tr("Wait for \"%1\" to finish or cancel it first.").arg(m_jobs->title()));
}

void MainWindow::openDemo()
{
    const QString dir = demoDirectory();
    if (isCurrentDemoModel(toPath(dir))) {
        openPath(dir);
        return;
    }
    const bool started = m_jobs->start(
        tr("Writing the demo model"), [dir](Progress&) { writeDemoModel(toPath(dir), /*overwrite=*/true); },
        [this, dir] { openPath(dir); });
    if (!started)
        showError(tr("Busy"), tr("Wait for \"%1\" to finish or cancel it first.").arg(m_jobs->title()));
}

void MainWindow::setLoadedModel(LoadedModelPtr model, const QString& path)
{
    m_model = std::move(model);
    m_modelPath = QFileInfo(path).absoluteFilePath();
    m_treeModel->setTree(m_model->tree);
    m_selection->setModel(&m_model->tree, m_modelPath);
    m_filter->clear();
    m_details->setModel(m_model);
    onAnalysisModelChanged();
    m_recent->add(m_modelPath);
    setWindowTitle(tr("%1 — QuantScope").arg(QFileInfo(m_modelPath).fileName()));

    // Show the first two levels (model -> layers) and the first layer's modules.
    m_tree->collapseAll();
    m_tree->expandToDepth(1);
    const auto& quantizable = m_model->tree.quantizable();
    if (!quantizable.empty()) {
        const QModelIndex first = m_treeModel->indexForNode(quantizable.front());
        for (QModelIndex p = first.parent(); p.isValid(); p = p.parent())
            m_tree->expand(p);
        m_tree->setCurrentIndex(first);
    }
    m_statusText->setText(tr("Opened %1: %2 tensors").arg(m_modelPath).arg(m_model->checkpoint.tensors().size()));
    updateSummary();
    updateActions();
    Q_EMIT modelOpened(m_modelPath);
}

bool MainWindow::selectModule(const QString& path)
{
    const QModelIndex index = m_treeModel->indexForPath(path);
    if (!index.isValid())
        return false;
    for (QModelIndex p = index.parent(); p.isValid(); p = p.parent())
        m_tree->expand(p);
    m_tree->setCurrentIndex(index);
    m_tree->scrollTo(index);
    return true;
}

void MainWindow::onCurrentModuleChanged()
{
    const QModelIndex current = m_tree->currentIndex();
    if (!current.isValid() || !m_model)
        return;
    const int node = m_treeModel->nodeOf(current);
    const QString path = QString::fromStdString(m_model->tree.node(node).path);
    m_details->showModule(node, m_treeModel->keptModules().contains(path));
    followModuleInAnalysis(node);
}

void MainWindow::updateSummary()
{
    if (!m_model) {
        m_summary->setText(tr("Open a checkpoint with <b>File ▸ Open</b>, drop one here, or try "
                              "<b>File ▸ Open Demo Model</b>."));
        return;
    }
    const CheckpointSummary s = summarizeCheckpoint(m_model->checkpoint);
    const QString format = QString::fromStdString(s.format)
        + (s.layout.empty() ? QString() : QStringLiteral(" (%1)").arg(QString::fromStdString(s.layout)));
    QString html = tr("<b>%1</b> · %2 · %3 on disk")
                       .arg(QFileInfo(m_modelPath).fileName().toHtmlEscaped(), format.toHtmlEscaped(),
                           ui::formatBytes(s.bytesOnDisk));
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
        + (m_treeModel->quantizableCount() == 1 ? tr("%1 Linear module, <b>%2 kept</b> in full precision")
                                                : tr("%1 Linear modules, <b>%2 kept</b> in full precision"))
              .arg(m_treeModel->quantizableCount())
              .arg(m_treeModel->keptCount());
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
    for (const auto& [key, value] : m_model->checkpoint.metadata())
        tip += QStringLiteral("%1 = %2\n")
                   .arg(QString::fromStdString(key),
                       QString::fromStdString(value.size() > 120 ? value.substr(0, 120) + "…" : value));
    m_summary->setToolTip(tip.trimmed());
}

void MainWindow::updateActions()
{
    const bool busy = m_jobs->isBusy();
    m_openFile->setEnabled(!busy);
    m_openFolder->setEnabled(!busy);
    m_openDemo->setEnabled(!busy);
    m_export->setEnabled(!busy && m_model && m_model->tree.quantizable().size() > 0);
    m_compareAction->setEnabled(m_model != nullptr);
    m_measureAction->setEnabled(!busy && m_model && m_model->tree.quantizable().size() > 0);
    m_layers->setMeasureEnabled(!busy && m_model && m_model->tree.quantizable().size() > 0);
    m_eval->setRunEnabled(!busy && m_model != nullptr);
}

void MainWindow::showExportDialog()
{
    if (!m_model)
        return;
    const QFileInfo info(m_modelPath);
    const QString folder = info.isDir() ? info.absoluteFilePath() : info.absolutePath();
    QString schemeName = QString::fromStdString(m_schemePanel->scheme().name);
    schemeName.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("-"));
    const QString suggestion = folder + QStringLiteral("-") + schemeName;
    const QStringList kept = m_treeModel->keptModules();
    const auto keepList = nxdKeepNames(m_model->tree, m_selection->result().kept(), m_selection->rules());
    QStringList names;
    for (const auto& n : keepList)
        names << QString::fromStdString(n);

    QStringList fullNames;
    for (const auto& n : fullKeepNames(m_model->tree, m_selection->result().kept()))
        fullNames << QString::fromStdString(n);
    // Why the scheme panel's scheme cannot be written in a format, before anything runs.
    auto problemFor = [this](const QString& format) -> QString {
        ExportOptions options;
        options.scheme = m_schemePanel->scheme();
        options.modelType = m_model->checkpoint.modelType();
        try {
            makeExporter(*exportFormatFromName(format.toStdString()), options);
        } catch (const Error& e) {
            return tr("%1 Choose another scheme in View ▸ Quantization Scheme.")
                .arg(QString::fromStdString(e.reason()));
        }
        return {};
    };
    ExportDialog dialog(suggestion, m_treeModel->quantizableCount() - static_cast<int>(kept.size()),
        static_cast<int>(kept.size()), names, fullNames, problemFor, this);
    if (m_schemePanel->scheme().convention == ScaleConvention::CompressedTensors)
        dialog.setFormat(QStringLiteral("compressed-tensors"));
    else if (m_schemePanel->scheme().convention == ScaleConvention::FmsMo)
        dialog.setFormat(QStringLiteral("aiu"));
    if (dialog.exec() == QDialog::Accepted)
        exportTo(dialog.destination(), dialog.overwrite(), dialog.format());
}

void MainWindow::exportTo(const QString& destination, bool overwrite, const QString& format)
{
    if (!m_model)
        return;
    ConversionOptions options;
    options.format = exportFormatFromName(format.toStdString()).value_or(ExportFormat::Nxd);
    options.destination = toPath(destination);
    options.overwrite = overwrite;
    for (const auto& path : m_treeModel->keptModules())
        options.keptModules.insert(path.toStdString());
    options.modulesToNotConvert = nxdKeepNames(m_model->tree, m_selection->result().kept(), m_selection->rules());
    options.scheme = m_schemePanel->scheme();
    for (const auto& d : m_selection->result().modules) { // quantize rules with their own scheme
        if (!d.keep && !d.scheme.empty()) {
            if (const auto preset = findSchemePreset(d.scheme))
                options.moduleSchemes[m_model->tree.node(d.module).path] = *preset;
        }
    }
    auto model = m_model;
    auto report = std::make_shared<ConversionReport>();
    const bool started = m_jobs->start(
        tr("Exporting to %1").arg(QFileInfo(destination).fileName()),
        [model, options, report](
            Progress& progress) { *report = convertCheckpoint(model->checkpoint, model->tree, options, progress); },
        [this, report, destination] {
            m_statusText->setText(tr("Exported to %1: %2 quantized, %3 kept · %4 → %5")
                                      .arg(destination)
                                      .arg(report->quantizedCount)
                                      .arg(report->keptModules.size())
                                      .arg(ui::formatBytes(report->bytesIn), ui::formatBytes(report->bytesOut)));
            Q_EMIT exportFinished(destination);
        });
    if (!started)
        showError(tr("Busy"), tr("Wait for \"%1\" to finish or cancel it first.").arg(m_jobs->title()));
}

void MainWindow::chooseFile()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Checkpoint"), QString(),
        tr("Checkpoints (*.safetensors *.index.json *.pt *.pth *.bin *.ckpt);;All files (*)"));
    if (!path.isEmpty())
        openPath(path);
}

void MainWindow::chooseFolder()
{
    const QString path = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"));
    if (!path.isEmpty())
        openPath(path);
}

void MainWindow::showError(const QString& title, const QString& message, const QString& details)
{
    m_lastError = message;
    m_statusText->setText(tr("%1 failed").arg(title));
    auto* box = new QMessageBox(QMessageBox::Critical, title, tr("%1 failed.").arg(title), QMessageBox::Ok, this);
    box->setInformativeText(message);
    if (!details.isEmpty())
        box->setDetailedText(details);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    Q_EMIT jobFailed(message);
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_tree->viewport() && event->type() == QEvent::Resize)
        fitNameColumn();
    return QMainWindow::eventFilter(watched, event);
}

void MainWindow::fitNameColumn()
{
    int others = 0;
    for (int c = ui::ModuleTreeModel::KeepColumn; c < ui::ModuleTreeModel::ColumnCount; ++c)
        others += m_tree->header()->isSectionHidden(c) ? 0 : m_tree->header()->sectionSize(c);
    m_tree->setColumnWidth(ui::ModuleTreeModel::NameColumn, std::max(180, m_tree->viewport()->width() - others));
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
    if (m_jobs->isBusy()) {
        m_jobs->cancel();
        m_jobs->waitForFinished();
    }
    event->accept();
}

} // namespace qs::app
