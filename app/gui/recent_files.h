// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QObject>
#include <QStringList>

class QMenu;

namespace qs::app {

// The most recently opened checkpoints (or projects: another settings key), persisted with
// QSettings and shown in a menu.
class RecentFiles : public QObject
{
    Q_OBJECT
public:
    static constexpr int kMaxEntries = 10;

    RecentFiles(QMenu* menu, QObject* parent = nullptr, QString settingsKey = QStringLiteral("recentFiles"));

    void add(const QString& path);
    QStringList entries() const;

Q_SIGNALS:
    void openRequested(const QString& path);

private:
    void rebuildMenu();

    QMenu* m_menu;
    QString m_key;
};

} // namespace qs::app
