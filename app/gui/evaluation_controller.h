// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"
#include "layer_table_model.h"

#include <QObject>
#include <QString>

#include <cstdint>

namespace qs {
struct EvaluationReport;
struct EvaluationRequest;
}

namespace qs::app {

class EvalPanel;

// The Evaluate tab: what the open model can run (its window limit and protocol, or why it cannot),
// and the evaluation job: the float model and the scheme panel's scheme (with the keep set and
// per-module schemes) scored on the tab's data; each run adds its row to the tab's table, and a
// comparison of calibration recipes adds one row per recipe.
class EvaluationController : public QObject
{
    Q_OBJECT
public:
    EvaluationController(JobContext context, EvalPanel* view, QObject* parent = nullptr);

    void evaluate();
    // One job: the scheme after each of the default recipes (RTN, GPTQ, AWQ, AWQ + GPTQ, Hadamard +
    // GPTQ), a row each; recipes that cannot run with the scheme are named in the status.
    void compareRecipes();
    void onModelChanged();

Q_SIGNALS:
    void evaluated();
    // A module of the divergence table was clicked: select it in the tree.
    void moduleActivated(const QString& path);
    // A run that cannot start (no data file chosen): for the window's error display.
    void error(const QString& title, const QString& message);
    // Per module, the output errors the runs measured with the scheme rounded to nearest and with
    // SmoothQuant/GPTQ, and GPTQ's loss (for the layer table).
    void moduleErrorsMeasured(const QHash<QString, ui::LayerTableModel::CalibrationCells>& cells);
    // The open model's positions: the longest window (and calibration sample) it can run.
    void maxSeqLenChanged(int positions);

private:
    // The tab's settings and the scheme dock's as a request; false (with error()) when they cannot run.
    bool request(EvaluationRequest& request, const QString& title);
    QString resultsKey(const EvaluationRequest& request) const;
    void showReport(const EvaluationReport& report, const QString& key, int kept, const QString& algorithms,
        double seconds = -1, std::uint64_t peakBytes = 0);

    JobContext m_context;
    EvalPanel* m_view;
    QHash<QString, ui::LayerTableModel::CalibrationCells> m_moduleErrors;
};

} // namespace qs::app
