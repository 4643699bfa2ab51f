// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "project/project.h"

#include <QObject>
#include <QString>

#include <functional>
#include <optional>

class QMenu;
class QWidget;

namespace qs::app {

class RecentFiles;

// File > Save Project / Open Project: the project file of the session (.qsproj), whether the
// session changed since it was saved or opened, the recent projects, and opening one: its
// checkpoint is opened (asked for when it moved), then its rules, scheme, algorithms,
// calibration and export target are applied. The window supplies the session's state and
// applies a project through `Session`; this class never sees the window.
class ProjectController : public QObject
{
    Q_OBJECT
public:
    struct Session
    {
        std::function<Project()> current; // the session as a project (its export target included)
        std::function<QString()> modelPath; // the open checkpoint, empty before one
        std::function<void(const QString&)> openModel; // asynchronous: modelOpened follows
        std::function<void(const Project&)> apply; // rules, scheme, algorithms, export target
        // Asks where a project's checkpoint went; empty: the user gave up.
        std::function<QString(const QString& missing)> locate;
    };

    ProjectController(Session session, QMenu* recentMenu, QWidget* dialogParent, QObject* parent = nullptr);

    const QString& file() const { return m_file; }
    bool isModified() const { return m_modified; }
    // The session changed (rules, scheme, algorithms, an export target).
    void markModified();

    // Writes the session to `file` and makes it the project's file; errors go to failed().
    bool saveTo(const QString& file);
    // Reads `file`, opens its checkpoint and applies it once open (opened() then); a newer
    // schema, an unknown field or a missing checkpoint the user does not locate go to failed().
    void open(const QString& file);
    // The window calls this when a model is open: a pending project is applied.
    void onModelOpened(const QString& path);

    // The menu commands, with their file dialogs.
    void save(); // to the project's file, or asks for one
    void saveAs();
    void chooseAndOpen();
    // Asks to save unsaved changes of an opened project; false: the user cancelled.
    bool maybeSave();

Q_SIGNALS:
    void stateChanged(); // file() or isModified() changed
    void opened(const QString& file);
    void failed(const QString& title, const QString& message);

private:
    void setState(const QString& file, bool modified);

    Session m_session;
    QWidget* m_dialogParent;
    RecentFiles* m_recent;
    QString m_file;
    bool m_modified = false;
    std::optional<Project> m_pending; // opened, waiting for its checkpoint
    QString m_pendingFile;
    bool m_pendingMoved = false; // its checkpoint was located elsewhere
};

// The file dialogs' filter and the extension a saved project gets.
QString projectFileFilter();

} // namespace qs::app
