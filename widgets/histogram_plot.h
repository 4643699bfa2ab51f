// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "stats/histogram.h"

#include <QWidget>

#include <vector>

class QCustomPlot;
class QCPGraph;
class QCPItemStraightLine;
class QCPTextElement;
class QCheckBox;
class QLabel;
class QSpinBox;

namespace qs::ui {

// The distribution of one tensor: the float values as a filled step curve and, when the
// tensor is quantized, the dequantized values on the same bins as a line, so clipping and
// the coarseness of the int8 grid are visible; optionally a checkpoint's own stored codes too. Plain histograms in, no libtorch. Optional
// dashed vertical lines mark the clipping range; the bin count is a control whose changes the
// owner answers with new histograms; an Export button saves the plot.
class HistogramPlot : public QWidget
{
    Q_OBJECT
public:
    explicit HistogramPlot(QWidget* parent = nullptr);

    // `dequantized` may be null or empty for tensors that stay in full precision.
    // The labels name the series in the legend ("original (float)", "dequantized (int8)" when empty).
    void setHistograms(const QString& title, const Histogram& original, const Histogram* dequantized,
        const QString& originalLabel = QString(), const QString& dequantizedLabel = QString());
    // A third series on the same bins, drawn dashed: the codes a checkpoint stores for this
    // tensor, dequantized (the nanoGPT fork's quantized_weight). Call after setHistograms(),
    // which removes it; null or empty removes it too.
    void setStoredHistogram(const Histogram* stored, const QString& label);
    bool hasStoredHistogram() const;
    // An empty plot with a message in place of the title ("Select a module", "Loading…").
    void showMessage(const QString& message);

    // Dashed vertical lines at these values (the quantization range, clipping thresholds); the
    // x range grows to include them. An empty vector removes them. showMessage() clears them.
    void setClipLines(const std::vector<double>& xs);
    const std::vector<double>& clipLines() const { return m_clipXs; }

    void setLogScale(bool on);
    bool logScale() const;
    // The number of bins the owner should compute (10..2000, 200 by default). setBins() does
    // not emit binsChanged(); the user's edits do.
    int bins() const;
    void setBins(int bins);
    bool hasData() const;
    QCustomPlot* plot() const { return m_plot; }

Q_SIGNALS:
    void binsChanged(int bins);

private:
    void applyScale();
    void applyXRange();

    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPGraph* m_original = nullptr;
    QCPGraph* m_dequantized = nullptr;
    QCPGraph* m_stored = nullptr;
    QCheckBox* m_logScale = nullptr;
    QSpinBox* m_bins = nullptr;
    std::vector<QCPItemStraightLine*> m_clipItems;
    std::vector<double> m_clipXs;
    double m_dataLo = -1;
    double m_dataHi = 1;
};

} // namespace qs::ui
