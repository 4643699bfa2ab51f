// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"
#include "project/project.h"
#include "runtime/export_calibration.h"

#include <optional>

#include <QObject>
#include <QString>

class QWidget;

namespace qs::app {

// The export: the dialog (destination, format, what will be kept, why a format cannot take the
// scheme) and the conversion job with the keep set, the scheme panel's scheme and the modules'
// own schemes. The export is the session's project (JobContext::project) with the dialog's target
// and calibration, converted by core's projectConversion, as `quantscope-cli run` converts it.
class ExportController : public QObject
{
    Q_OBJECT
public:
    // `dialogParent` is the window the export dialog belongs to.
    ExportController(JobContext context, QWidget* dialogParent, QObject* parent = nullptr);

    void showDialog();
    // With `calibration` (its data set), the calibration runs first in the same job: SmoothQuant,
    // GPTQ, static input scales (see runtime/export_calibration.h).
    void exportTo(const QString& destination, bool overwrite, const QString& format,
        const ExportCalibrationRequest& calibration = {});

    // The last export's target (a project's, once one is opened): the dialog starts from it.
    const std::optional<ProjectExport>& lastOutput() const { return m_lastOutput; }
    void setLastOutput(const std::optional<ProjectExport>& output) { m_lastOutput = output; }

Q_SIGNALS:
    // The checkpoint is complete at `destination`; `summary` says what was written.
    void exported(const QString& destination, const QString& summary);

private:
    QString problemFor(const QString& format) const;

    JobContext m_context;
    QWidget* m_dialogParent;
    std::optional<ProjectExport> m_lastOutput;
};

} // namespace qs::app
