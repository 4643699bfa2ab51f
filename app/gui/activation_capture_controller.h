// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"

#include <QObject>
#include <QString>

namespace qs::app {

class ActivationPanel;
class EvalPanel;

// Activation capture: the float model run on the Evaluate tab's calibration windows (a job),
// every capture point's statistics shown in the Activations tab. A checkpoint that stores its
// own activations (the nanoGPT fork's --store_activations) shows them there when it opens.
class ActivationCaptureController : public QObject
{
    Q_OBJECT
public:
    // `settings` is the Evaluate tab (data file, window length, windows, seed).
    ActivationCaptureController(
        JobContext context, EvalPanel* settings, ActivationPanel* view, QObject* parent = nullptr);

    void capture();
    // Reads the new model's stored activations, if it has any, as a job.
    void onModelChanged();

Q_SIGNALS:
    void captured(int points);
    void storedActivationsShown(int points);
    // A capture that cannot start, or the panel failing to save or open one.
    void error(const QString& title, const QString& message);

private:
    JobContext m_context;
    EvalPanel* m_settings;
    ActivationPanel* m_view;
};

} // namespace qs::app
