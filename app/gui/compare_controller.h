// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"

#include <QObject>
#include <QString>

namespace qs::app {

class ComparePanel;

// The Compare tab: the open model is side A, a second checkpoint side B, and the tree's current
// module's weight is the tensor compared. Opening B and the comparisons run in the panel on the
// thread pool (newest request wins).
class CompareController : public QObject
{
    Q_OBJECT
public:
    CompareController(JobContext context, ComparePanel* view, QObject* parent = nullptr);

    // Opens `path` as side B and shows the Compare tab (nothing without an open model).
    void compareWith(const QString& path);
    void onModelChanged();
    void follow(int node);

Q_SIGNALS:
    void failed(const QString& message);

private:
    JobContext m_context;
    ComparePanel* m_view;
};

} // namespace qs::app
