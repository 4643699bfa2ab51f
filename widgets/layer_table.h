// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "stats/layer_error.h"

#include <QHash>
#include <QSet>
#include <QWidget>

#include <vector>

class QDoubleSpinBox;
class QLabel;
class QModelIndex;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace qs::ui {

class LayerTableModel;
class SensitivityChart;

// The layer table: every quantizable module with its measured error, sortable (lowest SQNR
// first by default), with the thresholds that tint the cells, a Measure button, a status line
// and CSV export (raw numbers), and Suggest's sensitivity chart under it. Clicking or activating a
// row emits moduleActivated(node).
class LayerTable : public QWidget
{
    Q_OBJECT
public:
    explicit LayerTable(QWidget* parent = nullptr);

    void setRows(std::vector<LayerError> rows);
    void setKept(const QSet<QString>& modules);
    // Suggest's measured KL per module path: the Sensitivity column and, under the table, the
    // sorted bar chart (hidden while empty); a click on a bar activates that module.
    void setSensitivity(const QHash<QString, double>& kl);
    SensitivityChart* sensitivityChart() const { return m_chart; }
    void setStatus(const QString& status);
    // Disable while a measurement runs.
    void setMeasureEnabled(bool enabled);
    // The thresholds of the spin boxes (and the model's tints); the setters do not emit.
    double sqnrThreshold() const;
    void setSqnrThreshold(double db);
    double stdThreshold() const;
    void setStdThreshold(double std);
    // Selects and shows the row of a ModuleTree node (no moduleActivated); false when absent.
    bool selectNode(int node);
    // Writes the table in its current order as CSV (raw numbers).
    bool exportCsv(const QString& path, QString* error) const;

    LayerTableModel* model() const { return m_model; }
    QSortFilterProxyModel* proxy() const { return m_proxy; }
    QTableView* view() const { return m_view; }

Q_SIGNALS:
    void measureRequested();
    // A click or Enter on a row: show that module.
    void moduleActivated(int node);
    // The current row moved with the keyboard: follow it without leaving the table.
    void moduleSelected(int node);
    void sqnrThresholdChanged(double db);
    void stdThresholdChanged(double std);

private:
    void activate(const QModelIndex& proxyIndex);
    void chooseCsvFile();

    LayerTableModel* m_model = nullptr;
    QSortFilterProxyModel* m_proxy = nullptr;
    QTableView* m_view = nullptr;
    QDoubleSpinBox* m_sqnr = nullptr;
    QDoubleSpinBox* m_std = nullptr;
    QPushButton* m_measure = nullptr;
    QPushButton* m_export = nullptr;
    QLabel* m_status = nullptr;
    SensitivityChart* m_chart = nullptr;
    bool m_selecting = false;
};

} // namespace qs::ui
