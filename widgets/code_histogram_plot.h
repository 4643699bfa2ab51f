// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "stats/tensor_statistics.h"

#include <QWidget>

class QCheckBox;
class QCPBars;
class QCPItemText;
class QCPTextElement;
class QCustomPlot;

namespace qs::ui {

// How often each code of a quantized tensor is used: a bar per integer level (width 1) or, for
// fp8, a thin impulse at each code's value. The lowest and highest levels (saturation) are
// drawn in a second colour and summarised in a label with the fraction clipped before
// rounding. Counts on a logarithmic axis by default; an Export button saves the plot.
class CodeHistogramPlot : public QWidget
{
    Q_OBJECT
public:
    explicit CodeHistogramPlot(QWidget* parent = nullptr);

    void setCodes(const QString& title, const CodeHistogram& codes);
    // An empty plot with a message in place of the title.
    void showMessage(const QString& message);

    void setLogScale(bool on);
    bool logScale() const;
    bool hasData() const;
    // The saturation summary shown above the bars ("saturated: 0.12 % at -127, …").
    QString saturationText() const;
    QCustomPlot* plot() const { return m_plot; }

private:
    void applyScale();

    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPBars* m_bars = nullptr;
    QCPBars* m_saturated = nullptr;
    QCPItemText* m_summary = nullptr;
    QCheckBox* m_logScale = nullptr;
};

} // namespace qs::ui
