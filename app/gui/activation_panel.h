// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "runtime/activation_stats.h"

#include <QWidget>

#include <memory>
#include <vector>

class QComboBox;
class QLabel;
class QTabWidget;

namespace qs::ui {
class ChannelPlot;
class HeatmapView;
class HistogramPlot;
} // namespace qs::ui

namespace qs::app {

// The "Activations" tab: what a calibration run recorded, one capture point at a time: its
// histogram, its per-channel ranges (min/max band and mean, abs-max for SmoothQuant) and a
// heatmap of the first tokens x channels. Captures can be saved to and reopened from HDF5.
class ActivationPanel : public QWidget
{
    Q_OBJECT
public:
    explicit ActivationPanel(QWidget* parent = nullptr);

    void setCapture(std::shared_ptr<const std::vector<ActivationStats>> points, const QString& source);
    void showPoint(const QString& point);
    QComboBox* pointBox() const { return m_point; }
    ui::HistogramPlot* histogram() const { return m_histogram; }
    ui::ChannelPlot* channels() const { return m_channels; }
    ui::HeatmapView* heatmap() const { return m_heatmap; }
    int pointCount() const;

Q_SIGNALS:
    void failed(const QString& message);

private:
    void save();
    void open();
    void updateHeatmap(qint64 r0, qint64 r1, qint64 c0, qint64 c1, int rows, int cols);
    const ActivationStats* current() const;

    std::shared_ptr<const std::vector<ActivationStats>> m_points;
    QLabel* m_source = nullptr;
    QComboBox* m_point = nullptr;
    QLabel* m_summary = nullptr;
    QTabWidget* m_tabs = nullptr;
    ui::HistogramPlot* m_histogram = nullptr;
    ui::ChannelPlot* m_channels = nullptr;
    ui::HeatmapView* m_heatmap = nullptr;
};

} // namespace qs::app
