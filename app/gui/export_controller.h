// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"
#include "runtime/export_calibration.h"

#include <QObject>
#include <QString>

class QWidget;

namespace qs::app {

// The export: the dialog (destination, format, what will be kept, why a format cannot take the
// scheme) and the conversion job with the keep set, the scheme panel's scheme and the modules'
// own schemes.
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

Q_SIGNALS:
    // The checkpoint is complete at `destination`; `summary` says what was written.
    void exported(const QString& destination, const QString& summary);

private:
    QString problemFor(const QString& format) const;

    JobContext m_context;
    QWidget* m_dialogParent;
};

} // namespace qs::app
