// SPDX-License-Identifier: GPL-3.0-or-later
#include "job_controller.h"

#include "error.h"
#include "promise_progress.h"

#include <QtConcurrent/QtConcurrentRun>

namespace qs::app {
namespace {

QString errorDetails(const Error& e)
{
    const char* kind = dynamic_cast<const FormatError*>(&e) ? "malformed or unsupported input"
        : dynamic_cast<const IoError*>(&e)                  ? "the operating system refused"
        : dynamic_cast<const UsageError*>(&e)               ? "invalid request"
                                                            : "error";
    QString details;
    const auto& c = e.context();
    if (!c.file.empty())
        details += QStringLiteral("File: %1\n").arg(QString::fromStdString(c.file));
    if (!c.tensor.empty())
        details += QStringLiteral("Tensor: %1\n").arg(QString::fromStdString(c.tensor));
    if (c.offset)
        details += QStringLiteral("Byte offset: %1\n").arg(*c.offset);
    details += QStringLiteral("Reason: %1\nKind: %2").arg(QString::fromStdString(e.reason()), QString::fromUtf8(kind));
    return details;
}

} // namespace

JobController::JobController(QObject* parent)
    : QObject(parent)
{
    connect(&m_watcher, &QFutureWatcher<void>::progressValueChanged, this,
        [this](int value) { Q_EMIT progressChanged(value, m_watcher.progressText()); });
    connect(&m_watcher, &QFutureWatcher<void>::progressTextChanged, this,
        [this](const QString& text) { Q_EMIT progressChanged(m_watcher.progressValue(), text); });
    connect(&m_watcher, &QFutureWatcher<void>::finished, this, &JobController::onFinished);
}

JobController::~JobController()
{
    if (m_busy) {
        m_watcher.cancel();
        m_watcher.waitForFinished();
    }
}

bool JobController::start(const QString& title, Work work, std::function<void()> onSuccess)
{
    if (m_busy) {
        Q_EMIT refused(tr("Busy"), tr("Wait for \"%1\" to finish or cancel it first.").arg(m_title));
        return false;
    }
    m_busy = true;
    m_title = title;
    m_onSuccess = std::move(onSuccess);
    m_outcome = std::make_shared<Outcome>();
    auto outcome = m_outcome;
    Q_EMIT started(title);
    Q_EMIT progressChanged(0, QString());
    m_watcher.setFuture(QtConcurrent::run([work = std::move(work), outcome](QPromise<void>& promise) {
        PromiseProgress progress(promise);
        try {
            work(progress);
            outcome->completed = true;
        } catch (const CancelledError&) {
            // reported as cancelled below
        } catch (const Error& e) {
            outcome->error = QString::fromStdString(e.what());
            outcome->details = errorDetails(e);
        } catch (const std::exception& e) {
            outcome->error = QString::fromStdString(e.what());
        } catch (...) {
            outcome->error = QStringLiteral("an unexpected error without a message");
        }
    }));
    return true;
}

void JobController::cancel()
{
    if (m_busy)
        m_watcher.cancel();
}

void JobController::waitForFinished()
{
    if (m_busy)
        m_watcher.waitForFinished();
}

void JobController::onFinished()
{
    const QString title = m_title;
    const auto outcome = m_outcome;
    auto onSuccess = std::move(m_onSuccess);
    m_onSuccess = nullptr;
    m_busy = false;

    if (!outcome->error.isEmpty()) {
        Q_EMIT failed(title, outcome->error, outcome->details);
    } else if (outcome->completed) {
        if (onSuccess)
            onSuccess();
        Q_EMIT succeeded(title);
    } else {
        Q_EMIT cancelled(title);
    }
    Q_EMIT idle();
}

} // namespace qs::app
