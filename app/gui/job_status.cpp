// SPDX-License-Identifier: GPL-3.0-or-later
#include "job_status.h"

#include "job_controller.h"

#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QStatusBar>

namespace qs::app {

JobStatus::JobStatus(JobController* jobs, QStatusBar* bar, QObject* parent)
    : QObject(parent)
    , m_jobs(jobs)
    , m_text(new QLabel(tr("Ready"), bar))
    , m_progress(new QProgressBar(bar))
    , m_cancel(new QPushButton(tr("Cancel"), bar))
{
    m_progress->setRange(0, 1000);
    m_progress->setMaximumWidth(260);
    m_progress->setTextVisible(false);
    bar->addWidget(m_text, 1);
    bar->addPermanentWidget(m_progress);
    bar->addPermanentWidget(m_cancel);
    m_progress->hide();
    m_cancel->hide();

    connect(m_cancel, &QPushButton::clicked, m_jobs, &JobController::cancel);
    connect(m_jobs, &JobController::started, this, [this](const QString& title) {
        m_text->setText(title + QStringLiteral("…"));
        m_progress->setValue(0);
        m_progress->show();
        m_cancel->show();
    });
    connect(m_jobs, &JobController::progressChanged, this, [this](int value, const QString& text) {
        m_progress->setValue(value);
        m_text->setText(
            text.isEmpty() ? m_jobs->title() + QStringLiteral("…") : m_jobs->title() + QStringLiteral(": ") + text);
    });
    connect(m_jobs, &JobController::succeeded, this, [this](const QString& title) {
        // A job whose result handler said nothing of its own ends with "done", not with its last
        // progress line.
        if (m_text->text().startsWith(title))
            m_text->setText(tr("%1: done").arg(title));
    });
    connect(m_jobs, &JobController::cancelled, this,
        [this](const QString& title) { m_text->setText(tr("%1: cancelled, nothing was written").arg(title)); });
    connect(m_jobs, &JobController::idle, this, [this] {
        m_progress->hide();
        m_cancel->hide();
    });
}

void JobStatus::setText(const QString& text)
{
    m_text->setText(text);
}

} // namespace qs::app
