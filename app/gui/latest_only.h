// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "jobs/progress.h"

#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QtConcurrent/QtConcurrentRun>

#include <exception>
#include <functional>
#include <memory>
#include <optional>

namespace qs::app {

// Runs work for one view on the thread pool where only the newest request matters: starting
// a request cancels the one before (through the CancelToken the work polls) and drops its result, so
// a quick series of selections never queues up stale analyses. Results and errors are
// delivered on the GUI thread, to callbacks that live as long as `context`.
template <typename Result> class LatestOnly
{
public:
    using Work = std::function<Result(const CancelToken& cancel)>;

    explicit LatestOnly(QObject* context)
        : m_context(context)
    { }
    ~LatestOnly() { cancel(); }
    LatestOnly(const LatestOnly&) = delete;
    LatestOnly& operator=(const LatestOnly&) = delete;

    void run(Work work, std::function<void(Result)> done, std::function<void(const QString&)> failed)
    {
        cancel();
        auto flag = std::make_shared<CancelFlag>();
        m_flag = flag;
        const quint64 generation = ++m_generation;
        ++m_running;
        auto* watcher = new QFutureWatcher<Outcome>(m_context);
        QObject::connect(watcher, &QFutureWatcher<Outcome>::finished, m_context,
            [this, watcher, generation, done = std::move(done), failed = std::move(failed)] {
                watcher->deleteLater();
                --m_running;
                Outcome outcome = watcher->result();
                if (generation != m_generation || outcome.cancelled)
                    return; // a newer request replaced this one
                if (outcome.result)
                    done(std::move(*outcome.result));
                else if (failed)
                    failed(outcome.error);
            });
        watcher->setFuture(QtConcurrent::run([work = std::move(work), flag] {
            Outcome outcome;
            if (flag->cancelled()) {
                outcome.cancelled = true;
                return outcome;
            }
            try {
                outcome.result = work(flag->token());
            } catch (const std::exception& e) {
                outcome.cancelled = flag->cancelled();
                outcome.error = QString::fromStdString(e.what());
            } catch (...) {
                outcome.cancelled = flag->cancelled();
                outcome.error = QStringLiteral("unexpected error");
            }
            return outcome;
        }));
    }

    // Drops the running request (its work sees the flag and stops early).
    void cancel()
    {
        ++m_generation;
        if (m_flag)
            m_flag->cancel();
        m_flag.reset();
    }

    bool isRunning() const { return m_running > 0; }

private:
    struct Outcome
    {
        std::optional<Result> result;
        QString error;
        bool cancelled = false;
    };

    QObject* m_context;
    std::shared_ptr<CancelFlag> m_flag;
    quint64 m_generation = 0;
    int m_running = 0;
};

} // namespace qs::app
