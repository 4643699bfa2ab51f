// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"

#include <QObject>
#include <QSet>
#include <QString>

namespace qs::ui {
class LayerTable;
}

namespace qs::app {

// The layer table: every quantizable module's weight measured with the scheme panel's scheme
// (a job), the kept modules marked, and the current module selected; rows chosen in the
// table ask for their module.
class LayerTableController : public QObject
{
    Q_OBJECT
public:
    LayerTableController(JobContext context, ui::LayerTable* view, QObject* parent = nullptr);

    // Measures every quantizable module of the open model (a job); shows the table when done.
    void measure();
    void onModelChanged();
    void onSchemeChanged(const QuantScheme& scheme);
    void onKeepChanged();
    void follow(int node);

Q_SIGNALS:
    void measured(int modules);
    // A row was selected (moduleSelected) or activated (moduleActivated): its module's path.
    void moduleSelected(const QString& path);
    void moduleActivated(const QString& path);

private:
    QString pathOf(int node) const; // empty when the open model has no such node
    QSet<QString> keptSet() const;

    JobContext m_context;
    ui::LayerTable* m_view;
};

} // namespace qs::app
