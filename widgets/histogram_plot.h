#pragma once

#include "stats/histogram.h"

#include <QWidget>

class QCustomPlot;
class QCPGraph;
class QCPTextElement;
class QCheckBox;
class QLabel;

namespace qs::ui {

// The distribution of one tensor: the float values as a filled step curve and, when the
// tensor is quantized, the dequantized values on the same bins as a line, so clipping and
// the coarseness of the int8 grid are visible. Plain histograms in, no libtorch.
class HistogramPlot : public QWidget
{
    Q_OBJECT
public:
    explicit HistogramPlot(QWidget* parent = nullptr);

    // `dequantized` may be null or empty for tensors that stay in full precision.
    // The labels name the series in the legend ("original (float)", "dequantized (int8)" when empty).
    void setHistograms(const QString& title, const Histogram& original, const Histogram* dequantized,
        const QString& originalLabel = QString(), const QString& dequantizedLabel = QString());
    // An empty plot with a message in place of the title ("Select a module", "Loading…").
    void showMessage(const QString& message);

    void setLogScale(bool on);
    bool logScale() const;
    bool hasData() const;
    QCustomPlot* plot() const { return m_plot; }

private:
    void applyScale();

    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPGraph* m_original = nullptr;
    QCPGraph* m_dequantized = nullptr;
    QCheckBox* m_logScale = nullptr;
};

} // namespace qs::ui
