// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"

#include <QObject>
#include <QString>

class QWidget;

namespace qs::app {

// Keep lists as files: importing one (NxD, compressed-tensors, llm-compressor, fms-mo or text)
// adds its rules as one undoable step; exporting writes the kept modules in the chosen format.
class KeepListController : public QObject
{
    Q_OBJECT
public:
    // `dialogParent` is the window the file dialogs belong to.
    KeepListController(JobContext context, QWidget* dialogParent, QObject* parent = nullptr);

    void importList();
    void exportList();

Q_SIGNALS:
    void wrote(const QString& path);
    void error(const QString& title, const QString& message);

private:
    JobContext m_context;
    QWidget* m_dialogParent;
};

} // namespace qs::app
