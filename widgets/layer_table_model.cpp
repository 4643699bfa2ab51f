// SPDX-License-Identifier: GPL-3.0-or-later
#include "layer_table_model.h"

#include "format.h"
#include "stats/tensor_statistics.h"

#include <QBrush>
#include <QColor>

#include <cmath>
#include <limits>

namespace qs::ui {
namespace {

const QColor kLowSqnrTint(255, 205, 210);
const QColor kNarrowTint(255, 224, 178);
const QColor kOutlierTint(255, 236, 179);
const QColor kLowSqnrText(176, 0, 32);
const QColor kKeptText(128, 128, 128);

QString qstr(const std::string& s)
{
    return QString::fromUtf8(s.data(), static_cast<int>(s.size()));
}

// minCodeStd is NaN where the code std criterion does not apply (not int8 codes).
bool hasCodeStd(const LayerError& e)
{
    return std::isfinite(e.minCodeStd);
}

QString asciiShape(const std::vector<std::int64_t>& shape)
{
    QStringList parts;
    for (auto d : shape)
        parts << QString::number(d);
    return parts.join(QLatin1Char('x'));
}

double elementCount(const std::vector<std::int64_t>& shape)
{
    double n = 1;
    for (auto d : shape)
        n *= static_cast<double>(d);
    return n;
}

} // namespace

LayerTableModel::LayerTableModel(QObject* parent)
    : QAbstractTableModel(parent)
    , m_stdThreshold(kNarrowStdThreshold)
{ }

void LayerTableModel::setRows(std::vector<LayerError> rows)
{
    beginResetModel();
    m_rows = std::move(rows);
    m_rowOfNode.clear();
    for (std::size_t i = 0; i < m_rows.size(); ++i)
        m_rowOfNode.insert(m_rows[i].node, static_cast<int>(i));
    endResetModel();
}

void LayerTableModel::setKept(const QSet<QString>& modules)
{
    if (modules == m_kept)
        return;
    m_kept = modules;
    if (!m_rows.empty())
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
}

void LayerTableModel::setCalibration(const QHash<QString, CalibrationCells>& cells)
{
    m_calibration = cells;
    if (!m_rows.empty())
        Q_EMIT dataChanged(index(0, RtnOutputErrorColumn), index(rowCount() - 1, GptqLossColumn));
}

void LayerTableModel::setSensitivity(const QHash<QString, double>& kl)
{
    m_sensitivity = kl;
    if (!m_rows.empty())
        Q_EMIT dataChanged(index(0, SensitivityColumn), index(rowCount() - 1, SensitivityColumn));
}

bool LayerTableModel::isKept(int row) const
{
    const LayerError* e = this->row(row);
    return e && m_kept.contains(qstr(e->module));
}

void LayerTableModel::setSqnrThreshold(double db)
{
    if (db == m_sqnrThreshold)
        return;
    m_sqnrThreshold = db;
    flagsChanged();
}

void LayerTableModel::setStdThreshold(double std)
{
    if (std == m_stdThreshold)
        return;
    m_stdThreshold = std;
    flagsChanged();
}

const LayerError* LayerTableModel::row(int row) const
{
    if (row < 0 || row >= rowCount())
        return nullptr;
    return &m_rows[static_cast<std::size_t>(row)];
}

int LayerTableModel::rowOfNode(int node) const
{
    return m_rowOfNode.value(node, -1);
}

int LayerTableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const LayerError& e = m_rows[static_cast<std::size_t>(index.row())];
    const bool kept = m_kept.contains(qstr(e.module));
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole:
        return displayValue(e, column, kept);
    case Qt::EditRole:
        return rawValue(e, column, kept);
    case SortRole: {
        if (column == ModuleColumn)
            return e.node; // the tree's natural order (layers.2 before layers.10)
        if (column == ShapeColumn)
            return elementCount(e.shape);
        if (column == KeptColumn)
            return kept ? 1 : 0;
        const QVariant v = rawValue(e, column, kept);
        return v.isValid() ? v : QVariant(std::numeric_limits<double>::infinity()); // n/a sorts last
    }
    case NodeRole:
        return e.node;
    case Qt::ToolTipRole:
        return explanation(e, column);
    case Qt::TextAlignmentRole:
        return column == ModuleColumn ? QVariant::fromValue(Qt::AlignLeft | Qt::AlignVCenter)
                                      : QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::BackgroundRole:
        return kept ? QVariant() : tint(e, column);
    case Qt::ForegroundRole:
        if (kept)
            return QBrush(kKeptText);
        if (column == ModuleColumn && e.error.sqnrDb < m_sqnrThreshold)
            return QBrush(kLowSqnrText);
        return {};
    default:
        return {};
    }
}

QVariant LayerTableModel::rawValue(const LayerError& e, int column, bool kept) const
{
    switch (column) {
    case ModuleColumn:
        return qstr(e.module);
    case ShapeColumn:
        return asciiShape(e.shape);
    case KeptColumn:
        return kept;
    case MseColumn:
        return e.error.mse;
    case SqnrColumn:
        return e.error.sqnrDb;
    case CosineColumn:
        return e.error.cosine;
    case MaxErrorColumn:
        return e.error.maxAbsError;
    case KurtosisColumn:
        return e.kurtosis;
    case OutlierChannelsColumn:
        return static_cast<qlonglong>(e.outlierChannels);
    case MinCodeStdColumn:
        return hasCodeStd(e) ? QVariant(e.minCodeStd) : QVariant();
    case NarrowChannelsColumn:
        return hasCodeStd(e) ? QVariant(static_cast<qlonglong>(e.narrowChannels)) : QVariant();
    case RtnOutputErrorColumn:
    case CalibratedOutputErrorColumn:
    case GptqLossColumn: {
        const auto it = m_calibration.find(qstr(e.module));
        if (it == m_calibration.end())
            return {};
        const double v = column == RtnOutputErrorColumn ? it->rtnError
            : column == CalibratedOutputErrorColumn     ? it->calibratedError
                                                        : it->gptqLoss;
        return std::isfinite(v) ? QVariant(v) : QVariant();
    }
    case SensitivityColumn: {
        const auto it = m_sensitivity.find(qstr(e.module));
        return it != m_sensitivity.end() && std::isfinite(*it) ? QVariant(*it) : QVariant();
    }
    }
    return {};
}

QVariant LayerTableModel::displayValue(const LayerError& e, int column, bool kept) const
{
    switch (column) {
    case ModuleColumn:
        return qstr(e.module);
    case ShapeColumn:
        return formatShape(e.shape);
    case KeptColumn:
        return kept ? tr("yes") : QString();
    case MseColumn:
        return formatNumber(e.error.mse);
    case SqnrColumn:
        return formatNumber(e.error.sqnrDb);
    case CosineColumn:
        return formatNumber(e.error.cosine, 6);
    case MaxErrorColumn:
        return formatNumber(e.error.maxAbsError);
    case KurtosisColumn:
        return formatNumber(e.kurtosis);
    case OutlierChannelsColumn:
        return QString::number(e.outlierChannels);
    case MinCodeStdColumn:
        return hasCodeStd(e) ? formatNumber(e.minCodeStd) : QStringLiteral("—");
    case NarrowChannelsColumn:
        return hasCodeStd(e) ? QString::number(e.narrowChannels) : QStringLiteral("—");
    case RtnOutputErrorColumn:
    case CalibratedOutputErrorColumn:
    case GptqLossColumn:
    case SensitivityColumn: {
        const QVariant v = rawValue(e, column, kept);
        return v.isValid() ? formatNumber(v.toDouble()) : QStringLiteral("—");
    }
    }
    return {};
}

QVariant LayerTableModel::tint(const LayerError& e, int column) const
{
    switch (column) {
    case SqnrColumn:
        return e.error.sqnrDb < m_sqnrThreshold ? QVariant(QBrush(kLowSqnrTint)) : QVariant();
    case MinCodeStdColumn:
        return hasCodeStd(e) && e.minCodeStd < m_stdThreshold ? QVariant(QBrush(kNarrowTint)) : QVariant();
    case NarrowChannelsColumn:
        return e.narrowChannels > 0 ? QVariant(QBrush(kNarrowTint)) : QVariant();
    case OutlierChannelsColumn:
        return e.outlierChannels > 0 ? QVariant(QBrush(kOutlierTint)) : QVariant();
    }
    return {};
}

QString LayerTableModel::explanation(const LayerError& e, int column) const
{
    switch (column) {
    case ModuleColumn:
        return e.tensor.empty() ? qstr(e.module) : tr("%1\nmeasured on %2").arg(qstr(e.module), qstr(e.tensor));
    case SqnrColumn:
        if (e.error.sqnrDb < m_sqnrThreshold)
            return tr("%1 dB is below the %2 dB threshold: consider keeping this module in full precision")
                .arg(formatNumber(e.error.sqnrDb), formatNumber(m_sqnrThreshold));
        break;
    case MinCodeStdColumn:
        if (hasCodeStd(e) && e.minCodeStd < m_stdThreshold)
            return tr("Some channel's codes have a std of %1, below %2: too narrow a use of the code range")
                .arg(formatNumber(e.minCodeStd), formatNumber(m_stdThreshold));
        if (!hasCodeStd(e))
            return tr("No int codes (not an integer scheme)");
        break;
    case OutlierChannelsColumn:
        if (e.outlierChannels > 0)
            return tr("%1 of %2 channels have an abs-max above %3 × the median channel's")
                .arg(e.outlierChannels)
                .arg(e.channels)
                .arg(formatNumber(kOutlierChannelFactor));
        break;
    }
    const QVariant raw = rawValue(e, column, false);
    if (raw.typeId() == QMetaType::Double)
        return QString::number(raw.toDouble(), 'g', 10);
    return {};
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::DisplayRole) {
        switch (section) {
        case ModuleColumn:
            return tr("Module");
        case ShapeColumn:
            return tr("Shape");
        case KeptColumn:
            return tr("Kept");
        case MseColumn:
            return tr("MSE");
        case SqnrColumn:
            return tr("SQNR (dB)");
        case CosineColumn:
            return tr("Cosine");
        case MaxErrorColumn:
            return tr("Max |error|");
        case KurtosisColumn:
            return tr("Kurtosis");
        case OutlierChannelsColumn:
            return tr("Outlier channels");
        case MinCodeStdColumn:
            return tr("Min code std");
        case NarrowChannelsColumn:
            return tr("Narrow channels");
        case RtnOutputErrorColumn:
            return tr("Output error");
        case CalibratedOutputErrorColumn:
            return tr("Calibrated error");
        case GptqLossColumn:
            return tr("GPTQ loss");
        case SensitivityColumn:
            return tr("Sensitivity (KL)");
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case ModuleColumn:
            return tr("The module's path in the checkpoint");
        case ShapeColumn:
            return tr("Shape of the measured weight");
        case KeptColumn:
            return tr("Kept in full precision by the current rules");
        case MseColumn:
            return tr("Mean squared error of the dequantized weight");
        case SqnrColumn:
            return tr("Signal-to-quantization-noise ratio, 10·log10(Σx² / Σ(x − x')²); higher is better. "
                      "Red: below %1 dB")
                .arg(formatNumber(m_sqnrThreshold));
        case CosineColumn:
            return tr("Cosine similarity of the float and the dequantized weight (1 is identical)");
        case MaxErrorColumn:
            return tr("Largest absolute difference between the float and the dequantized weight");
        case KurtosisColumn:
            return tr("Excess kurtosis of the float weight: 0 for a Gaussian, large with heavy tails (outliers)");
        case OutlierChannelsColumn:
            return tr("Output channels whose abs-max exceeds %1 × the median channel's; amber when any")
                .arg(formatNumber(kOutlierChannelFactor));
        case MinCodeStdColumn:
            return tr("The smallest per-channel std of the int codes after narrow-weight recomputation; "
                      "orange below %1")
                .arg(formatNumber(m_stdThreshold));
        case NarrowChannelsColumn:
            return tr("Channels whose code std is below %1").arg(formatNumber(kNarrowStdThreshold));
        case RtnOutputErrorColumn:
            return tr("The module's output error (relative MSE on the float model's inputs) in the last Evaluate "
                      "run with the scheme rounded to nearest");
        case CalibratedOutputErrorColumn:
            return tr("The same in the last Evaluate run with SmoothQuant or GPTQ: compare with the column before");
        case GptqLossColumn:
            return tr("GPTQ's loss for the module, Σ (w − q)² / Hinv_ii² / 2, as llm-compressor logs it");
        case SensitivityColumn:
            return tr("Measured by Suggest: the KL divergence per token from the float model when only this module "
                      "is quantized with the scheme; higher is more sensitive");
        }
    }
    return {};
}

void LayerTableModel::flagsChanged()
{
    if (!m_rows.empty())
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1),
            { Qt::BackgroundRole, Qt::ForegroundRole, Qt::ToolTipRole });
    Q_EMIT headerDataChanged(Qt::Horizontal, 0, ColumnCount - 1);
}

} // namespace qs::ui
