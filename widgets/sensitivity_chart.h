// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>
#include <QWidget>

#include <utility>
#include <vector>

class QCPBars;
class QCustomPlot;

namespace qs::ui {

// The measured sensitivity of the most sensitive modules (24) as horizontal bars, sorted, the most
// sensitive on top, named on the left; a click on a bar emits moduleClicked. Exports as
// PNG/SVG/PDF. Shown by the Suggest tab and under the layer table.
class SensitivityChart : public QWidget
{
    Q_OBJECT
public:
    explicit SensitivityChart(QWidget* parent = nullptr);

    // (module path, KL) in any order.
    void setSensitivity(std::vector<std::pair<QString, double>> modules);
    QCustomPlot* plot() const { return m_plot; }
    const std::vector<std::pair<QString, double>>& shown() const { return m_shown; }

Q_SIGNALS:
    void moduleClicked(const QString& path);

private:
    QCustomPlot* m_plot = nullptr;
    QCPBars* m_bars = nullptr;
    std::vector<std::pair<QString, double>> m_shown; // in bar order
};

} // namespace qs::ui
