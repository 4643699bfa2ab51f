// SPDX-License-Identifier: GPL-3.0-or-later
// MainWindow's project: the session as a Project (the checkpoint, the keep rules, the scheme
// dock's scheme, algorithms and calibration, the last export's target), applying an opened one,
// the title with its unsaved-changes mark, and asking where a moved checkpoint went.
#include "algorithms_box.h"
#include "calibration_choice.h"
#include "export_controller.h"
#include "main_window.h"
#include "project_controller.h"
#include "scheme_panel.h"
#include "selection_editor.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QPushButton>

namespace qs::app {

Project MainWindow::currentProject() const
{
    Project p;
    p.checkpoint = m_modelPath.toStdString();
    p.rules = m_selection->rules();
    p.scheme = m_schemePanel->scheme();
    const CalibrationChoice choice = m_algorithms->choice();
    p.algorithms = choice.algorithms;
    if (!choice.data.isEmpty())
        p.calibration = ProjectCalibration { choice.data.toStdString(), choice.samples, choice.seqLen };
    if (m_export->lastOutput()) {
        p.output = *m_export->lastOutput();
    } else { // the consumer the scheme is for, the destination still to choose
        p.output.format = p.scheme.convention == ScaleConvention::CompressedTensors ? ExportFormat::CompressedTensors
            : p.scheme.convention == ScaleConvention::FmsMo                         ? ExportFormat::Aiu
                                                                                    : ExportFormat::Nxd;
    }
    return p;
}

void MainWindow::applyProject(const Project& project)
{
    m_schemePanel->setScheme(project.scheme);
    m_algorithms->setSettings(project.algorithms);
    if (project.calibration) {
        m_algorithms->setCalibrationData(QString::fromStdString(project.calibration->data.string()));
        m_algorithms->setSamples(project.calibration->samples);
        m_algorithms->setSeqLen(project.calibration->seqLen);
    }
    m_selection->setRules(project.rules, tr("Open project"));
    m_export->setLastOutput(project.output);
}

void MainWindow::openProject(const QString& file)
{
    m_project->open(file);
}

bool MainWindow::saveProject(const QString& file)
{
    return m_project->saveTo(file);
}

QString MainWindow::projectFile() const
{
    return m_project->file();
}

void MainWindow::createProjectController(QMenu* recentMenu)
{
    ProjectController::Session session;
    session.current = [this] { return currentProject(); };
    session.modelPath = [this] { return m_modelPath; };
    session.openModel = [this](const QString& path) { openPath(path); };
    session.apply = [this](const Project& p) { applyProject(p); };
    session.locate = [this](const QString& missing) { return locateCheckpoint(missing); };
    m_project = new ProjectController(session, recentMenu, this, this);
    connect(m_project, &ProjectController::stateChanged, this, &MainWindow::updateTitle);
    connect(m_project, &ProjectController::failed, this,
        [this](const QString& title, const QString& message) { showError(title, message); });
    connect(m_project, &ProjectController::opened, this, [this](const QString& file) {
        updateTitle();
        Q_EMIT projectOpened(file);
    });
    auto modified = [this] { m_project->markModified(); };
    connect(m_selection, &SelectionEditor::changed, this, modified);
    connect(m_schemePanel, &ui::SchemePanel::schemeChanged, this, modified);
    connect(m_algorithms, &AlgorithmsBox::changed, this, modified);
}

void MainWindow::updateTitle()
{
    const QString project = m_project->file();
    const QString model = QFileInfo(m_modelPath).fileName();
    if (!project.isEmpty())
        setWindowTitle(tr("%1[*] (%2) — QuantScope").arg(QFileInfo(project).fileName(), model));
    else if (!model.isEmpty())
        setWindowTitle(tr("%1[*] — QuantScope").arg(model));
    else
        setWindowTitle(tr("QuantScope"));
    setWindowModified(m_project->isModified());
}

QString MainWindow::locateCheckpoint(const QString& missing)
{
    QMessageBox box(QMessageBox::Question, tr("Where is the checkpoint?"),
        tr("The project's checkpoint is no longer at %1. Choose where it is now.").arg(missing), QMessageBox::Cancel,
        this);
    QPushButton* file = box.addButton(tr("Choose File…"), QMessageBox::AcceptRole);
    QPushButton* folder = box.addButton(tr("Choose Folder…"), QMessageBox::AcceptRole);
    box.exec();
    const QString start = QFileInfo(missing).absolutePath();
    if (box.clickedButton() == file)
        return QFileDialog::getOpenFileName(this, tr("Locate the checkpoint"), start);
    if (box.clickedButton() == folder)
        return QFileDialog::getExistingDirectory(this, tr("Locate the checkpoint folder"), start);
    return {};
}

} // namespace qs::app
