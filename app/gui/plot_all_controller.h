// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"

#include <QObject>
#include <QString>

class QWidget;

namespace qs::app {

// File > Export All Plots: one image per weight and stored activation of the open model into a
// folder (what `quantscope-cli plot --all` writes, visualize.py's images done with QuantScope's
// views), as a job. The worker measures each tensor; the GUI thread draws and saves it, a few
// at a time, so memory stays bounded and the window stays responsive.
class PlotAllController : public QObject
{
    Q_OBJECT
public:
    PlotAllController(JobContext context, QWidget* dialogParent, QObject* parent = nullptr);

    // Asks for the folder, the kind and a filter, then exports.
    void showDialog();
    // `kind`: "histogram" or "heatmap"; `filter` as plotTargets() takes it.
    void exportAll(const QString& folder, const QString& kind, const QString& filter);

Q_SIGNALS:
    void exported(int images, const QString& folder);
    void error(const QString& title, const QString& message);

private:
    JobContext m_context;
    QWidget* m_dialogParent;
};

} // namespace qs::app
