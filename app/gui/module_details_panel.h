#pragma once

#include "loaded_model.h"
#include "quant/quant_scheme.h"

#include <QHash>
#include <QWidget>

#include <memory>

class QComboBox;
class QLabel;

namespace qs {
struct TensorAnalysis;
}

namespace qs::ui {
class HistogramPlot;
}

namespace qs::app {

// The right-hand side of the main window: what the selected module is, the distribution of
// one of its tensors (float and int8-dequantized) and the quantization error. Analyses run
// on the thread pool; a newer selection makes an older, still running one stale, and its
// result is dropped. Results are cached per tensor for the open model.
class ModuleDetailsPanel : public QWidget
{
    Q_OBJECT
public:
    explicit ModuleDetailsPanel(QWidget* parent = nullptr);

    void setModel(LoadedModelPtr model);
    void showModule(int node, bool kept);
    void setKept(bool kept);
    // The scheme that quantizable weights are measured with; cached analyses are redone.
    void setScheme(const QuantScheme& scheme);

    ui::HistogramPlot* plot() const { return m_plot; }
    QString currentTensor() const;
    bool isBusy() const { return m_pending > 0; }

Q_SIGNALS:
    void analysisShown(const QString& tensor);
    void analysisFailed(const QString& tensor, const QString& message);

private:
    void analyse(const QString& tensor);
    void display(const TensorAnalysis& analysis);
    void updateMetricsText();

    LoadedModelPtr m_model;
    QuantScheme m_scheme;
    int m_node = -1;
    bool m_kept = false;
    quint64 m_generation = 0;
    int m_pending = 0;
    QHash<QString, std::shared_ptr<const TensorAnalysis>> m_cache;
    std::shared_ptr<const TensorAnalysis> m_shown;

    QLabel* m_title = nullptr;
    QLabel* m_info = nullptr;
    QComboBox* m_tensor = nullptr;
    QLabel* m_tensorLabel = nullptr;
    ui::HistogramPlot* m_plot = nullptr;
    QLabel* m_metrics = nullptr;
};

} // namespace qs::app
