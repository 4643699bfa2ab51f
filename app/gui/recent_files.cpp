// SPDX-License-Identifier: GPL-3.0-or-later
#include "recent_files.h"

#include <QAction>
#include <QDir>
#include <QFileInfo>
#include <QMenu>
#include <QSettings>

namespace qs::app {
RecentFiles::RecentFiles(QMenu* menu, QObject* parent, QString settingsKey)
    : QObject(parent)
    , m_menu(menu)
    , m_key(std::move(settingsKey))
{
    rebuildMenu();
}

void RecentFiles::add(const QString& path)
{
    const QString absolute = QFileInfo(path).absoluteFilePath();
    QStringList list = entries();
    list.removeAll(absolute);
    list.prepend(absolute);
    while (list.size() > kMaxEntries)
        list.removeLast();
    QSettings().setValue(m_key, list);
    rebuildMenu();
}

QStringList RecentFiles::entries() const
{
    return QSettings().value(m_key).toStringList();
}

void RecentFiles::rebuildMenu()
{
    m_menu->clear();
    const QStringList list = entries();
    for (int i = 0; i < list.size(); ++i) {
        const QString& path = list[i];
        auto* action
            = m_menu->addAction(QStringLiteral("&%1  %2").arg((i + 1) % 10).arg(QDir::toNativeSeparators(path)));
        action->setEnabled(QFileInfo::exists(path));
        connect(action, &QAction::triggered, this, [this, path] { Q_EMIT openRequested(path); });
    }
    if (list.isEmpty()) {
        m_menu->addAction(tr("No recent checkpoints"))->setEnabled(false);
        return;
    }
    m_menu->addSeparator();
    connect(m_menu->addAction(tr("Clear the list")), &QAction::triggered, this, [this] {
        QSettings().remove(m_key);
        rebuildMenu();
    });
}

} // namespace qs::app
