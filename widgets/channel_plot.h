// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "stats/tensor_statistics.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QCPGraph;
class QCPItemStraightLine;
class QCPItemText;
class QCPTextElement;
class QCustomPlot;

namespace qs::ui {

// Per output channel of a weight, two views:
// - Code std: the std of each channel's int codes after narrow-weight recomputation (and
//   before it, when the scheme recomputes) against a threshold line (20 by default, fms-mo's
//   requirement for int8); channels below it are marked and counted.
// - Ranges: each channel's min..max as a band with its mean (AIMET-style per-channel ranges),
//   which shows the rows that dominate a per-tensor scale.
// An Export button saves the plot.
class ChannelPlot : public QWidget
{
    Q_OBJECT
public:
    enum class Mode
    {
        CodeStd,
        Ranges,
    };

    explicit ChannelPlot(QWidget* parent = nullptr);

    // When `channels.codeStd` is empty (not quantized) the code-std view shows a notice.
    void setChannels(const QString& title, const ChannelStatistics& channels);
    // An empty plot with a message in place of the title.
    void showMessage(const QString& message);
    bool hasData() const;
    // Writes one CSV line per channel: channel, min, max, mean, std, abs_max, code_std,
    // code_std_before (empty fields when not known). Atomic; false with `error` on failure.
    bool saveCsv(const QString& path, QString* error) const;

    Mode mode() const;
    void setMode(Mode mode);
    // The setter does not emit thresholdChanged(); the user's edits do.
    double threshold() const;
    void setThreshold(double threshold);
    // Channels whose code std (after recomputation) lies below the threshold.
    int belowCount() const;
    // "N of M channels below 20 (before recomputation: K)" or the ranges summary.
    QString summaryText() const;
    QCustomPlot* plot() const { return m_plot; }

Q_SIGNALS:
    void thresholdChanged(double threshold);

private:
    void fillGraphs();
    void updateBelow();
    void applyMode();

    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPGraph* m_codeStdBefore = nullptr;
    QCPGraph* m_codeStd = nullptr;
    QCPGraph* m_below = nullptr;
    QCPGraph* m_min = nullptr;
    QCPGraph* m_max = nullptr;
    QCPGraph* m_mean = nullptr;
    QCPItemStraightLine* m_thresholdLine = nullptr;
    QCPItemText* m_notice = nullptr;
    QComboBox* m_mode = nullptr;
    QDoubleSpinBox* m_threshold = nullptr;
    QLabel* m_thresholdLabel = nullptr;
    QLabel* m_summary = nullptr;
    ChannelStatistics m_channels;
};

} // namespace qs::ui
