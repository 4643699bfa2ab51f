// SPDX-License-Identifier: GPL-3.0-or-later
#include "project_controller.h"

#include "error.h"
#include "recent_files.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>

namespace qs::app {

QString projectFileFilter()
{
    return ProjectController::tr("QuantScope projects (*.qsproj);;All files (*)");
}

ProjectController::ProjectController(Session session, QMenu* recentMenu, QWidget* dialogParent, QObject* parent)
    : QObject(parent)
    , m_session(std::move(session))
    , m_dialogParent(dialogParent)
    , m_recent(new RecentFiles(recentMenu, this, QStringLiteral("recentProjects")))
{
    connect(m_recent, &RecentFiles::openRequested, this, [this](const QString& file) {
        if (maybeSave())
            open(file);
    });
}

void ProjectController::setState(const QString& file, bool modified)
{
    if (file == m_file && modified == m_modified)
        return;
    m_file = file;
    m_modified = modified;
    Q_EMIT stateChanged();
}

void ProjectController::markModified()
{
    if (!m_pending) // applying a project is not a change of it
        setState(m_file, true);
}

bool ProjectController::saveTo(const QString& file)
{
    if (m_session.modelPath().isEmpty()) {
        Q_EMIT failed(tr("Saving the project"), tr("Open a checkpoint first: a project starts from one."));
        return false;
    }
    QString path = QFileInfo(file).absoluteFilePath();
    if (QFileInfo(path).suffix().isEmpty())
        path += QStringLiteral(".qsproj");
    try {
        writeProject(path.toStdString(), m_session.current());
    } catch (const Error& e) {
        Q_EMIT failed(tr("Saving the project"), QString::fromStdString(e.what()));
        return false;
    }
    m_recent->add(path);
    setState(path, false);
    return true;
}

void ProjectController::open(const QString& file)
{
    Project project;
    try {
        project = readProject(file.toStdString());
    } catch (const Error& e) {
        Q_EMIT failed(tr("Opening the project"), QString::fromStdString(e.what()));
        return;
    }
    QString checkpoint = QString::fromStdString(project.checkpoint.string());
    if (!QFileInfo::exists(checkpoint)) {
        checkpoint = m_session.locate ? m_session.locate(checkpoint) : QString();
        if (checkpoint.isEmpty()) {
            Q_EMIT failed(tr("Opening the project"),
                tr("%1 names the checkpoint %2, which is not there.")
                    .arg(file, QString::fromStdString(project.checkpoint.string())));
            return;
        }
    }
    m_pendingMoved = checkpoint != QString::fromStdString(project.checkpoint.string());
    project.checkpoint = checkpoint.toStdString();
    m_pending = project;
    m_pendingFile = QFileInfo(file).absoluteFilePath();
    m_session.openModel(QFileInfo(checkpoint).absoluteFilePath());
}

void ProjectController::onModelOpened(const QString& path)
{
    if (!m_pending) { // a checkpoint opened on its own: a new session, no project yet
        setState(QString(), false);
        return;
    }
    const Project project = *m_pending;
    if (QFileInfo(path).absoluteFilePath()
        != QFileInfo(QString::fromStdString(project.checkpoint.string())).absoluteFilePath()) {
        m_pending.reset(); // another model was opened meanwhile
        setState(QString(), false);
        return;
    }
    m_session.apply(project); // markModified() is a no-op while pending
    m_pending.reset();
    m_recent->add(m_pendingFile);
    setState(m_pendingFile, m_pendingMoved); // a located checkpoint is a change to save
    Q_EMIT opened(m_pendingFile);
}

void ProjectController::save()
{
    if (m_file.isEmpty())
        saveAs();
    else
        saveTo(m_file);
}

void ProjectController::saveAs()
{
    QString start = m_file;
    if (start.isEmpty()) {
        const QFileInfo model(m_session.modelPath());
        start = model.absolutePath() + QLatin1Char('/') + model.completeBaseName() + QStringLiteral(".qsproj");
    }
    const QString file = QFileDialog::getSaveFileName(m_dialogParent, tr("Save Project"), start, projectFileFilter());
    if (!file.isEmpty())
        saveTo(file);
}

void ProjectController::chooseAndOpen()
{
    if (!maybeSave())
        return;
    const QString file
        = QFileDialog::getOpenFileName(m_dialogParent, tr("Open Project"), QString(), projectFileFilter());
    if (!file.isEmpty())
        open(file);
}

bool ProjectController::maybeSave()
{
    if (!m_modified || m_file.isEmpty())
        return true;
    const auto answer = QMessageBox::question(m_dialogParent, tr("Unsaved changes"),
        tr("The project %1 has changed since it was saved. Save the changes?").arg(QFileInfo(m_file).fileName()),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
    if (answer == QMessageBox::Cancel)
        return false;
    return answer == QMessageBox::Discard || saveTo(m_file);
}

} // namespace qs::app
