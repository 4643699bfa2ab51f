// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QObject>
#include <QString>

class QLabel;
class QProgressBar;
class QPushButton;
class QStatusBar;

namespace qs::app {

class JobController;

// The status bar's part of the jobs: a message line, and while a job runs its title, progress
// and a Cancel button; a cancelled job says that nothing was written.
class JobStatus : public QObject
{
    Q_OBJECT
public:
    JobStatus(JobController* jobs, QStatusBar* bar, QObject* parent = nullptr);

    void setText(const QString& text);

private:
    JobController* m_jobs;
    QLabel* m_text = nullptr;
    QProgressBar* m_progress = nullptr;
    QPushButton* m_cancel = nullptr;
};

} // namespace qs::app
