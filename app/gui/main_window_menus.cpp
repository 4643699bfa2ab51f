// SPDX-License-Identifier: GPL-3.0-or-later
// MainWindow's menus and toolbar: the commands, their shortcuts, the file dialogs that pick
// what to open or compare with, and which commands a running job or a missing model disables.
#include "compare_controller.h"
#include "eval_panel.h"
#include "export_controller.h"
#include "plot_all_controller.h"
#include "project_controller.h"
#include "job_controller.h"
#include "layer_table.h"
#include "layer_table_controller.h"
#include "main_window.h"
#include "module_tree_pane.h"
#include "recent_files.h"
#include "selection_editor.h"
#include "suggest_panel.h"

#include <QAction>
#include <QApplication>
#include <QDockWidget>
#include <QFileDialog>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QStyle>
#include <QToolBar>
#include <QUndoStack>

namespace qs::app {
namespace {

QString checkpointFilter()
{
    return MainWindow::tr("Checkpoints (*.safetensors *.index.json *.pt *.pth *.bin *.ckpt *.pkl);;All files (*)");
}

} // namespace

void MainWindow::createActions()
{
    createFileMenu();

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
    edit->addAction(tr("&Find Module"), this, [this] { m_pane->filter()->setFocus(); })
        ->setShortcut(QKeySequence::Find);

    createViewMenu();

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
    toolbar->addAction(m_exportAction);
}

void MainWindow::createFileMenu()
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
    m_openProjectAction = file->addAction(tr("Open &Project…"), this, [this] { m_project->chooseAndOpen(); });
    m_openProjectAction->setToolTip(tr("Open a saved project (.qsproj): its checkpoint, keep rules, scheme, "
                                       "algorithms and export target"));
    createProjectController(file->addMenu(tr("Recent Pro&jects")));
    m_saveProjectAction = file->addAction(tr("&Save Project"), this, [this] { m_project->save(); });
    m_saveProjectAction->setShortcut(QKeySequence::Save);
    m_saveProjectAction->setToolTip(tr("Save the session as a project that 'quantscope-cli run' replays"));
    m_saveProjectAsAction = file->addAction(tr("Save Project &As…"), this, [this] { m_project->saveAs(); });
    m_saveProjectAsAction->setShortcut(QKeySequence::SaveAs);
    file->addSeparator();
    m_exportAction = file->addAction(
        style()->standardIcon(QStyle::SP_DialogSaveButton), tr("&Export…"), m_export, &ExportController::showDialog);
    m_exportAction->setShortcut(QKeySequence(tr("Ctrl+E")));
    m_exportAction->setToolTip(tr("Write a quantized checkpoint with the current keep selection"));
    m_plotAllAction = file->addAction(tr("Export All &Plots…"), m_plotAll, &PlotAllController::showDialog);
    m_plotAllAction->setToolTip(tr("One histogram or matrix image per weight and stored activation, into a folder "
                                   "(what the nanoGPT fork's visualize.py draws)"));
    file->addSeparator();
    m_compareAction = file->addAction(tr("&Compare With…"), this, [this] {
        const QString path
            = QFileDialog::getOpenFileName(this, tr("Compare with a checkpoint"), QString(), checkpointFilter());
        if (!path.isEmpty())
            compareWith(path);
    });
    m_compareAction->setToolTip(tr("Overlay the same tensors of a second checkpoint, e.g. an export of this one"));
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
}

void MainWindow::createViewMenu()
{
    auto* view = menuBar()->addMenu(tr("&View"));
    QAction* schemeAction = m_schemeDock->toggleViewAction();
    schemeAction->setText(tr("Quantization &Scheme"));
    schemeAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_K));
    view->addAction(schemeAction);
    view->addSeparator();
    using Tab = AnalysisTabs::Tab;
    auto addTab = [this, view](const QString& text, Tab tab, Qt::Key key) {
        view->addAction(text, this, [this, tab] { m_tabs->showTab(tab); })->setShortcut(QKeySequence(Qt::CTRL | key));
    };
    addTab(tr("&Module Views"), Tab::Module, Qt::Key_1);
    addTab(tr("&Layer Table"), Tab::Layers, Qt::Key_2);
    addTab(tr("&Compare"), Tab::Compare, Qt::Key_3);
    addTab(tr("&Evaluate"), Tab::Evaluate, Qt::Key_4);
    addTab(tr("Ac&tivations"), Tab::Activations, Qt::Key_5);
    m_measureAction = view->addAction(tr("Measure &All Layers"), this, &MainWindow::measureLayers);
}

void MainWindow::updateActions()
{
    const bool busy = m_jobs->isBusy();
    const bool quantizable = m_model && !m_model->tree.quantizable().empty();
    m_openFile->setEnabled(!busy);
    m_openFolder->setEnabled(!busy);
    m_openDemo->setEnabled(!busy);
    m_exportAction->setEnabled(!busy && quantizable);
    m_openProjectAction->setEnabled(!busy);
    m_saveProjectAction->setEnabled(m_model != nullptr);
    m_saveProjectAsAction->setEnabled(m_model != nullptr);
    m_compareAction->setEnabled(m_model != nullptr);
    m_plotAllAction->setEnabled(!busy && m_model != nullptr);
    m_measureAction->setEnabled(!busy && quantizable);
    m_tabs->layers()->setMeasureEnabled(!busy && quantizable);
    m_tabs->eval()->setRunEnabled(!busy && m_model != nullptr);
    m_tabs->suggest()->setRunEnabled(!busy && quantizable);
}

void MainWindow::chooseFile()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Checkpoint"), QString(), checkpointFilter());
    if (!path.isEmpty())
        openPath(path);
}

void MainWindow::chooseFolder()
{
    const QString path = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"));
    if (!path.isEmpty())
        openPath(path);
}

} // namespace qs::app
