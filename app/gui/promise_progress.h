// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "jobs/progress.h"

#include <QPromise>
#include <QString>

namespace qs::app {

// Core's Progress on top of a QPromise: reports become progress values (per mille) and
// texts of the promise's future, cancellation is the future's cancel().
class PromiseProgress final : public Progress
{
public:
    explicit PromiseProgress(QPromise<void>& promise)
        : m_promise(promise)
    {
        m_promise.setProgressRange(0, 1000);
    }

    void report(const ProgressUpdate& update) override
    {
        const int value = static_cast<int>(update.fraction() * 1000.0);
        QString text;
        if (update.stepsTotal > 0)
            text = QStringLiteral("%1/%2  ").arg(update.stepsDone).arg(update.stepsTotal);
        text += QString::fromStdString(update.current);
        m_promise.setProgressValueAndText(value, text);
    }

    bool cancelled() const override { return m_promise.isCanceled(); }

private:
    QPromise<void>& m_promise;
};

} // namespace qs::app
