// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "stats/layer_error.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QSet>
#include <QString>

#include <limits>
#include <vector>

namespace qs::ui {

// The measured quantization error of every quantizable module, one row each, for choosing what
// to keep in full precision. DisplayRole is formatted text; EditRole and SortRole the raw value
// (numbers for sorting and CSV). Cells that need attention are tinted: SQNR below the SQNR
// threshold (red), the smallest code std below the std threshold (orange), outlier channels
// (amber). Rows of kept modules are greyed and not tinted: they stay in full precision.
class LayerTableModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column
    {
        ModuleColumn,
        ShapeColumn,
        KeptColumn,
        MseColumn,
        SqnrColumn,
        CosineColumn,
        MaxErrorColumn,
        KurtosisColumn,
        OutlierChannelsColumn,
        MinCodeStdColumn,
        NarrowChannelsColumn,
        RtnOutputErrorColumn, // from the Evaluate tab's runs: the module's output error (relative MSE)
        CalibratedOutputErrorColumn, // ... with SmoothQuant / GPTQ
        GptqLossColumn,
        SensitivityColumn, // from Suggest: KL to the float model with only this module quantized
        ColumnCount
    };
    enum Role
    {
        SortRole = Qt::UserRole + 1, // the raw value (shape: the element count)
        NodeRole, // the ModuleTree node of the row (int)
    };

    // What the Evaluate tab measured per module: its output's relative MSE on the float model's
    // inputs with the scheme rounded to nearest and with the calibration algorithms, and GPTQ's
    // loss. NaN where a run did not measure it.
    struct CalibrationCells
    {
        double rtnError = std::numeric_limits<double>::quiet_NaN();
        double calibratedError = std::numeric_limits<double>::quiet_NaN();
        double gptqLoss = std::numeric_limits<double>::quiet_NaN();
    };

    explicit LayerTableModel(QObject* parent = nullptr);

    void setRows(std::vector<LayerError> rows);
    const std::vector<LayerError>& rows() const { return m_rows; }
    // Module paths kept in full precision.
    void setKept(const QSet<QString>& modules);
    // Keyed by module path; replaces what was there. Survives setRows (the runs do not depend on it).
    void setCalibration(const QHash<QString, CalibrationCells>& cells);
    const QHash<QString, CalibrationCells>& calibration() const { return m_calibration; }
    // Measured sensitivity per module path (KL per token with only that module quantized), from
    // Suggest; replaces what was there, survives setRows.
    void setSensitivity(const QHash<QString, double>& kl);
    const QSet<QString>& kept() const { return m_kept; }
    bool isKept(int row) const;
    void setSqnrThreshold(double db); // 30 dB by default
    double sqnrThreshold() const { return m_sqnrThreshold; }
    void setStdThreshold(double std); // kNarrowStdThreshold (20) by default
    double stdThreshold() const { return m_stdThreshold; }

    // The row's data, null when out of range.
    const LayerError* row(int row) const;
    // The row of a ModuleTree node, -1 when it is not in the table.
    int rowOfNode(int node) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVariant rawValue(const LayerError& e, int column, bool kept) const;
    QVariant displayValue(const LayerError& e, int column, bool kept) const;
    QVariant tint(const LayerError& e, int column) const;
    QString explanation(const LayerError& e, int column) const;
    void flagsChanged();

    std::vector<LayerError> m_rows;
    QSet<QString> m_kept;
    QHash<QString, CalibrationCells> m_calibration;
    QHash<QString, double> m_sensitivity;
    QHash<int, int> m_rowOfNode;
    double m_sqnrThreshold = 30.0;
    double m_stdThreshold;
};

} // namespace qs::ui
