// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>

namespace qs {
class Progress;
}

namespace qs::app {

// Runs one foreground job at a time (open, export, writing the demo) on the global thread
// pool, with progress, cancel and a clear error path. The work function runs in a worker
// thread and reports through core's Progress; `onSuccess` runs back on the GUI thread.
class JobController : public QObject
{
    Q_OBJECT
public:
    using Work = std::function<void(Progress&)>;

    explicit JobController(QObject* parent = nullptr);
    ~JobController() override;

    bool isBusy() const { return m_busy; }
    const QString& title() const { return m_title; }

    // Returns false (and starts nothing) while another job runs; `refused` then says why.
    bool start(const QString& title, Work work, std::function<void()> onSuccess = {});
    void cancel();

    // Blocks until the running job has finished; for shutdown and tests only.
    void waitForFinished();

Q_SIGNALS:
    void started(const QString& title);
    void progressChanged(int perMille, const QString& text);
    void succeeded(const QString& title);
    // `message` is the complete sentence; `details` lists the file, tensor, byte offset and error
    // kind when the core said them (for a dialog's "Show Details").
    void failed(const QString& title, const QString& message, const QString& details);
    void cancelled(const QString& title);
    void idle();
    // A start() while another job runs: `title` and `message` are for the user ("Busy", wait
    // for the running job or cancel it). Emitted once per refused start; nothing was started.
    void refused(const QString& title, const QString& message);

private:
    void onFinished();

    struct Outcome
    {
        QString error;
        QString details;
        bool completed = false; // the work returned normally (it may never start if cancelled early)
    };

    QFutureWatcher<void> m_watcher;
    std::shared_ptr<Outcome> m_outcome;
    std::function<void()> m_onSuccess;
    QString m_title;
    bool m_busy = false;
};

} // namespace qs::app
