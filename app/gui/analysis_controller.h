// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"

#include <QObject>

namespace qs::app {

class ModuleDetailsPanel;

// The selected module's analysis in the Module tab: it follows the tree's current module, the
// module's keep state and the scheme panel's scheme. The analyses themselves run in the panel
// on the thread pool (newest request wins), not as foreground jobs.
class AnalysisController : public QObject
{
    Q_OBJECT
public:
    AnalysisController(JobContext context, ModuleDetailsPanel* view, QObject* parent = nullptr);

    void onModelChanged();
    // `node` became the tree's current module.
    void follow(int node);
    // The keep set changed; `node` is the current module (-1 when there is none).
    void onKeepChanged(int node);
    void onSchemeChanged(const QuantScheme& scheme);

private:
    JobContext m_context;
    ModuleDetailsPanel* m_view;
};

} // namespace qs::app
