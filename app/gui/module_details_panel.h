// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "analysis_cache.h"
#include "latest_only.h"
#include "loaded_model.h"
#include "quant/quant_scheme.h"
#include "stats/tensor_analysis.h"
#include "stats/tensor_statistics.h"

#include <QWidget>

#include <memory>

class QComboBox;
class QLabel;
class QTabWidget;

namespace qs::ui {
class ChannelPlot;
class CodeHistogramPlot;
class HeatmapView;
class HistogramPlot;
class StatisticsBox;
struct HeatmapWindow;
} // namespace qs::ui

namespace qs::app {

// The right-hand side of the main window: what the selected module is and four views of one
// of its tensors: the distribution (float and dequantized, clip lines, statistics), the code
// histogram, the heatmap (zoom re-samples) and the per-channel code std / ranges. Analyses and
// heatmaps run on the thread pool; a newer request cancels an older, still running one and
// its result is dropped. Analyses are cached per (tensor, scheme, bins) for the open model.
class ModuleDetailsPanel : public QWidget
{
    Q_OBJECT
public:
    enum Tab
    {
        DistributionTab,
        CodesTab,
        HeatmapTab,
        ChannelsTab,
    };

    explicit ModuleDetailsPanel(QWidget* parent = nullptr);
    ~ModuleDetailsPanel() override;

    void setModel(LoadedModelPtr model);
    void showModule(int node, bool kept);
    // Shows one tensor of the open model (any tensor, not only the current module's).
    void showTensor(const QString& tensor);
    void setKept(bool kept);
    // The scheme that quantizable weights are measured with; cached analyses are redone.
    void setScheme(const QuantScheme& scheme);

    ui::HistogramPlot* plot() const { return m_plot; }
    ui::CodeHistogramPlot* codesPlot() const { return m_codes; }
    ui::HeatmapView* heatmapView() const { return m_heatmap; }
    ui::ChannelPlot* channelPlot() const { return m_channels; }
    ui::StatisticsBox* statisticsBox() const { return m_statistics; }
    QTabWidget* tabs() const { return m_tabs; }
    QString currentTensor() const;
    const TensorAnalysis* shownAnalysis() const { return m_shown.get(); }
    bool isBusy() const { return m_analysis.isRunning() || m_heatmapJob.isRunning(); }

Q_SIGNALS:
    void analysisShown(const QString& tensor);
    void analysisFailed(const QString& tensor, const QString& message);
    void heatmapShown(const QString& tensor);

private:
    QString cacheKey(const QString& tensor) const;
    void analyse(const QString& tensor);
    void display(std::shared_ptr<const TensorAnalysis> analysis);
    void updateMetricsText();
    void requestHeatmap(const ui::HeatmapWindow& window);
    void requestFullHeatmap();
    void clearViews(const QString& message);

    LoadedModelPtr m_model;
    QuantScheme m_scheme;
    QString m_schemeKey;
    int m_node = -1;
    bool m_kept = false;
    int m_bins = 200;
    RecentCache<TensorAnalysis> m_cache;
    std::shared_ptr<const TensorAnalysis> m_shown;
    QString m_requested; // the tensor the newest analysis is for
    LatestOnly<std::shared_ptr<const TensorAnalysis>> m_analysis;
    LatestOnly<Heatmap> m_heatmapJob;

    QLabel* m_title = nullptr;
    QLabel* m_info = nullptr;
    QComboBox* m_tensor = nullptr;
    QLabel* m_tensorLabel = nullptr;
    QTabWidget* m_tabs = nullptr;
    ui::HistogramPlot* m_plot = nullptr;
    ui::StatisticsBox* m_statistics = nullptr;
    ui::CodeHistogramPlot* m_codes = nullptr;
    ui::HeatmapView* m_heatmap = nullptr;
    ui::ChannelPlot* m_channels = nullptr;
    QLabel* m_metrics = nullptr;
};

} // namespace qs::app
