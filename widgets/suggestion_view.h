// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "select/suggestion.h"

#include <QString>
#include <QWidget>

#include <utility>
#include <vector>

class QCPGraph;
class QCustomPlot;
class QLabel;

namespace qs::ui {

class SensitivityChart;

// Suggest's two plots: the curve of exported size against predicted perplexity for the sequence
// of choices (everything quantized, then one more module kept per point in sensitivity order),
// with the current choice marked (a click on a point emits pointClicked), and the measured
// sensitivity of the most sensitive modules (24) as a sorted bar chart, the most sensitive on top.
// Both export as PNG/SVG/PDF; the curve also as CSV.
class SuggestionView : public QWidget
{
    Q_OBJECT
public:
    explicit SuggestionView(QWidget* parent = nullptr);

    // `selected`: the index of the current choice on the curve, -1 when it is not on it.
    void setCurve(const std::vector<SuggestionPoint>& points, int selected, double floatPerplexity);
    void setSelected(int index);
    int selected() const { return m_selected; }
    // (module, KL) in any order; the chart shows the 24 most sensitive.
    void setSensitivity(std::vector<std::pair<QString, double>> modules);
    void clear(const QString& message);
    // The curve as CSV: kept, bytes, bits, perplexity, kl_divergence; false with `error` on failure.
    bool exportCurveCsv(const QString& path, QString* error) const;

    QCustomPlot* curvePlot() const { return m_curve; }
    SensitivityChart* sensitivityChart() const { return m_chart; }
    const std::vector<SuggestionPoint>& points() const { return m_points; }

Q_SIGNALS:
    void pointClicked(int index);

private:
    void chooseCsvFile();

    QCustomPlot* m_curve = nullptr;
    SensitivityChart* m_chart = nullptr;
    QCPGraph* m_line = nullptr;
    QCPGraph* m_mark = nullptr;
    QCPGraph* m_float = nullptr;
    QLabel* m_message = nullptr;
    std::vector<SuggestionPoint> m_points;
    int m_selected = -1;
};

} // namespace qs::ui
