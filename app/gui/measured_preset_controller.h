// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"

#include <QObject>
#include <QString>

namespace qs::app {

// The measured keep presets ("worst:K", "below:DB"): every module measured with the scheme
// panel's scheme (a job), then the keep rules for the worst ones added as one undoable step.
class MeasuredPresetController : public QObject
{
    Q_OBJECT
public:
    // Runs the presets that `context.selection` asks to be measured.
    explicit MeasuredPresetController(JobContext context, QObject* parent = nullptr);

    void measureAndKeep(const QString& preset);

private:
    JobContext m_context;
};

} // namespace qs::app
