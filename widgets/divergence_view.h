// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Where along the depth a quantized model leaves the float one: a plot of the per-layer
// relative MSE of the quantized stream's hidden states against the float stream's (log scale),
// beside the mean error each layer's modules make on their own (float input), and a table of
// every Linear module's own and accumulated output error. Activating a row names its module.
#include "runtime/divergence.h"

#include <QString>
#include <QWidget>

#include <vector>

class QCPGraph;
class QCPTextElement;
class QCustomPlot;
class QLabel;
class QTableWidget;

namespace qs::ui {

class DivergenceView : public QWidget
{
    Q_OBJECT
public:
    explicit DivergenceView(QWidget* parent = nullptr);

    void setDivergence(
        const QString& title, const std::vector<BlockDivergence>& blocks, const std::vector<ModuleDivergence>& modules);
    // An empty plot and table with a message.
    void showMessage(const QString& message);
    bool hasData() const { return !m_blocks.empty(); }

    QCustomPlot* plot() const { return m_plot; }
    QTableWidget* table() const { return m_table; }

Q_SIGNALS:
    // A module's row was clicked or activated: its path.
    void moduleActivated(const QString& path);

private:
    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPGraph* m_stream = nullptr;
    QCPGraph* m_own = nullptr;
    QTableWidget* m_table = nullptr;
    QLabel* m_summary = nullptr;
    std::vector<BlockDivergence> m_blocks;
};

} // namespace qs::ui
