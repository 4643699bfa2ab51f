// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "latest_only.h"
#include "loaded_model.h"
#include "stats/tensor_comparison.h"

#include <QWidget>

#include <memory>

class QComboBox;
class QLabel;
class QPushButton;

namespace qs::ui {
class HistogramPlot;
}

namespace qs::app {

// Two checkpoints side by side (for example an original and its export): the same tensor's
// distributions overlaid on common bins, both tensors' statistics and their difference.
// Opening the second checkpoint and each comparison run on the thread pool (newest wins).
class ComparePanel : public QWidget
{
    Q_OBJECT
public:
    explicit ComparePanel(QWidget* parent = nullptr);

    // The open model is side A.
    void setModel(LoadedModelPtr model, const QString& path);
    // Opens side B (a file or folder); tensors present in both become the choices.
    void openOther(const QString& path);
    // Compares one tensor of A with its counterpart in B (".weight" matches ".weight_packed").
    // Before B is open, remembers the tensor and compares it once B is there.
    void compare(const QString& tensor);

    QString otherPath() const { return m_otherPath; }
    QComboBox* tensorBox() const { return m_tensor; }
    ui::HistogramPlot* plot() const { return m_plot; }
    const TensorComparison* shown() const { return m_shown.get(); }
    bool isBusy() const { return m_open.isRunning() || m_job.isRunning(); }

Q_SIGNALS:
    void otherOpened(const QString& path);
    void compared(const QString& tensor);
    void failed(const QString& message);

private:
    void chooseOther(bool folder);
    void fillTensors();
    void showComparison(std::shared_ptr<const TensorComparison> c);
    std::string counterpart(const std::string& name) const;

    LoadedModelPtr m_model;
    QString m_path;
    std::shared_ptr<const Checkpoint> m_other;
    QString m_otherPath;
    QString m_preferred;
    int m_bins = 200; // the tensor asked for last (the selected module's weight)
    std::shared_ptr<const TensorComparison> m_shown;
    LatestOnly<std::shared_ptr<const Checkpoint>> m_open;
    LatestOnly<std::shared_ptr<const TensorComparison>> m_job;

    QLabel* m_sides = nullptr;
    QPushButton* m_openFile = nullptr;
    QPushButton* m_openFolder = nullptr;
    QComboBox* m_tensor = nullptr;
    ui::HistogramPlot* m_plot = nullptr;
    QLabel* m_table = nullptr;
};

} // namespace qs::app
