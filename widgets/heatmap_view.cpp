// SPDX-License-Identifier: GPL-3.0-or-later
#include "heatmap_view.h"

#include "format.h"
#include "plot_export.h"
#include "qcustomplot_include.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPushButton>
#include <QSignalBlocker>
#include <QStandardItemModel>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace qs::ui {
namespace {

constexpr int kDebounceMs = 150;
constexpr int kFallbackPixels = 512; // cell budget before the plot has been laid out

// Where the cells of one axis lie: the centres of the first and last cell and how many cells
// the colour map stores. Cell i covers [begin + i * block, begin + (i + 1) * block); a single
// cell is stored twice because QCPColorMap gives one cell no width.
struct CellAxis
{
    double first = 0;
    double last = 0;
    int size = 0;
};

CellAxis cellAxis(qint64 begin, qint64 end, int cells, qint64 block)
{
    const double span = static_cast<double>(end - begin);
    double width = static_cast<double>(block);
    if (block < 1 || cells * width < span || (cells - 1) * width >= span)
        width = span / cells; // not the documented layout: spread the cells evenly
    if (cells == 1)
        return { begin + 0.25 * span, begin + 0.75 * span, 2 };
    return { begin + 0.5 * width, begin + (cells - 0.5) * width, cells };
}

QCPColorGradient blueWhiteRed()
{
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.0, QColor(5, 48, 97));
    g.setColorStopAt(0.25, QColor(67, 147, 195));
    g.setColorStopAt(0.5, QColor(247, 247, 247));
    g.setColorStopAt(0.75, QColor(214, 96, 77));
    g.setColorStopAt(1.0, QColor(103, 0, 31));
    return g;
}

qint64 clampTo(qint64 v, qint64 lo, qint64 hi)
{
    return std::max(lo, std::min(v, hi));
}

} // namespace

HeatmapView::HeatmapView(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
    , m_gradient(new QComboBox(this))
    , m_symmetric(new QCheckBox(tr("Symmetric scale"), this))
    , m_reduction(new QComboBox(this))
    , m_field(new QComboBox(this))
    , m_resetZoom(new QPushButton(tr("Reset zoom"), this))
    , m_info(new QLabel(this))
    , m_cursor(new QLabel(this))
    , m_debounce(new QTimer(this))
{
    m_plot->setMinimumSize(320, 240);
    m_plot->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    m_plot->plotLayout()->addElement(0, 0, m_title);

    m_map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    m_scale = new QCPColorScale(m_plot);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setBarWidth(14);
    m_plot->plotLayout()->addElement(1, 1, m_scale);
    m_map->setColorScale(m_scale);
    auto* margins = new QCPMarginGroup(m_plot);
    m_plot->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);

    m_plot->xAxis->setLabel(tr("input column"));
    m_plot->yAxis->setLabel(tr("output row"));
    m_plot->yAxis->setRangeReversed(true); // row 0 at the top, as the matrix is written
    m_plot->xAxis->grid()->setVisible(false);
    m_plot->yAxis->grid()->setVisible(false);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);

    m_gradient->addItem(tr("Blue–white–red (diverging)"), -1);
    m_gradient->addItem(tr("Polar (diverging)"), int(QCPColorGradient::gpPolar));
    m_gradient->addItem(tr("Thermal"), int(QCPColorGradient::gpThermal));
    m_gradient->addItem(tr("Grayscale"), int(QCPColorGradient::gpGrayscale));
    m_gradient->addItem(tr("Hot"), int(QCPColorGradient::gpHot));
    m_gradient->addItem(tr("Jet"), int(QCPColorGradient::gpJet));
    m_gradient->setToolTip(tr("Colour map"));
    m_reduction->addItem(tr("block abs-max"), int(HeatmapReduction::AbsMax));
    m_reduction->addItem(tr("block mean"), int(HeatmapReduction::Mean));
    m_reduction->setToolTip(tr("How the elements of a block become one cell: the value of largest magnitude "
                               "(with its sign), or the mean"));
    m_field->addItem(tr("weights"), int(HeatmapField::Values));
    m_field->addItem(tr("error (float − dequantized)"), int(HeatmapField::Error));
    m_symmetric->setChecked(true);
    m_symmetric->setToolTip(tr("Colour range ±max|v|, so that 0 sits in the middle of the map"));
    m_resetZoom->setToolTip(tr("Show the whole matrix"));
    m_info->setWordWrap(true);
    m_cursor->setMinimumWidth(
        fontMetrics().horizontalAdvance(QStringLiteral("row 000000, column 000000: -0.0000e-00")));
    m_cursor->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    m_debounce->setSingleShot(true);
    m_debounce->setInterval(kDebounceMs);

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Show:"), this));
    controls->addWidget(m_field);
    controls->addWidget(m_reduction);
    controls->addWidget(m_gradient);
    controls->addWidget(m_symmetric);
    controls->addStretch(1);
    controls->addWidget(m_resetZoom);
    addExportButton(controls, m_plot, [this] { return m_titleText + QStringLiteral(" heatmap"); });
    auto* status = new QHBoxLayout;
    status->addWidget(m_info, 1);
    status->addWidget(m_cursor);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot, 1);
    layout->addLayout(status);
    layout->addLayout(controls);

    connect(m_plot->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] { onRangeChanged(); });
    connect(m_plot->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] { onRangeChanged(); });
    connect(m_debounce, &QTimer::timeout, this, &HeatmapView::requestVisibleWindow);
    connect(m_resetZoom, &QPushButton::clicked, this, &HeatmapView::resetZoom);
    connect(m_plot, &QCustomPlot::mouseMove, this, &HeatmapView::showCursor);
    connect(m_gradient, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        applyGradient();
        m_plot->replot(QCustomPlot::rpQueuedReplot);
    });
    connect(m_symmetric, &QCheckBox::toggled, this, [this] {
        applyDataRange();
        m_plot->replot(QCustomPlot::rpQueuedReplot);
    });
    connect(m_reduction, qOverload<int>(&QComboBox::currentIndexChanged), this, &HeatmapView::settingsChanged);
    connect(m_field, qOverload<int>(&QComboBox::currentIndexChanged), this, &HeatmapView::settingsChanged);

    applyGradient();
    showMessage(tr("Select a module to see its weights as a heatmap"));
}

void HeatmapView::setHeatmap(const QString& title, const Heatmap& heatmap)
{
    if (heatmap.empty() || heatmap.outRows <= 0 || heatmap.outCols <= 0 || heatmap.rowEnd <= heatmap.rowBegin
        || heatmap.colEnd <= heatmap.colBegin
        || heatmap.values.size() < static_cast<std::size_t>(heatmap.outRows) * heatmap.outCols) {
        showMessage(tr("%1: nothing to show").arg(title));
        return;
    }
    const bool resetView = !m_hasData || m_resetPending || title != m_titleText || heatmap.rows != m_heatmap.rows
        || heatmap.cols != m_heatmap.cols;
    m_resetPending = false;
    m_heatmap = heatmap;
    m_titleText = title;
    m_hasData = true;
    m_title->setText(title);
    m_scale->axis()->setLabel(heatmap.field == HeatmapField::Error ? tr("error") : tr("value"));
    fillMap();
    if (resetView) {
        setAxisRanges(static_cast<double>(heatmap.colBegin), static_cast<double>(heatmap.colEnd),
            static_cast<double>(heatmap.rowBegin), static_cast<double>(heatmap.rowEnd));
        m_lastRequest
            = { heatmap.rowBegin, heatmap.rowEnd, heatmap.colBegin, heatmap.colEnd, heatmap.outRows, heatmap.outCols };
    }
    applyDataRange();
    updateInfo();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapView::showMessage(const QString& message)
{
    m_debounce->stop();
    m_hasData = false;
    m_resetPending = false;
    m_heatmap = Heatmap();
    m_titleText.clear();
    m_title->setText(message);
    m_map->data()->clear();
    m_info->clear();
    m_cursor->clear();
    setAxisRanges(0, 1, 0, 1);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

HeatmapReduction HeatmapView::reduction() const
{
    return static_cast<HeatmapReduction>(m_reduction->currentData().toInt());
}

void HeatmapView::setReduction(HeatmapReduction reduction)
{
    const QSignalBlocker block(m_reduction);
    m_reduction->setCurrentIndex(m_reduction->findData(int(reduction)));
}

HeatmapField HeatmapView::field() const
{
    return static_cast<HeatmapField>(m_field->currentData().toInt());
}

void HeatmapView::setField(HeatmapField field)
{
    if (field == HeatmapField::Error && !errorAvailable())
        return;
    const QSignalBlocker block(m_field);
    m_field->setCurrentIndex(m_field->findData(int(field)));
}

void HeatmapView::setErrorAvailable(bool available)
{
    auto* model = qobject_cast<QStandardItemModel*>(m_field->model());
    if (auto* item = model ? model->item(m_field->findData(int(HeatmapField::Error))) : nullptr) {
        item->setEnabled(available);
        item->setToolTip(available ? QString() : tr("Choose a quantization scheme to see its error"));
    }
    if (!available && field() == HeatmapField::Error) {
        const QSignalBlocker block(m_field);
        m_field->setCurrentIndex(m_field->findData(int(HeatmapField::Values)));
    }
}

bool HeatmapView::errorAvailable() const
{
    auto* model = qobject_cast<QStandardItemModel*>(m_field->model());
    auto* item = model ? model->item(m_field->findData(int(HeatmapField::Error))) : nullptr;
    return item && item->isEnabled();
}

bool HeatmapView::symmetricScale() const
{
    return m_symmetric->isChecked();
}

void HeatmapView::setSymmetricScale(bool on)
{
    m_symmetric->setChecked(on);
}

HeatmapWindow HeatmapView::visibleWindow() const
{
    HeatmapWindow w;
    if (!m_hasData || m_heatmap.rows <= 0 || m_heatmap.cols <= 0)
        return w;
    const QCPRange x = m_plot->xAxis->range();
    const QCPRange y = m_plot->yAxis->range();
    w.colBegin = clampTo(static_cast<qint64>(std::floor(x.lower)), 0, m_heatmap.cols - 1);
    w.colEnd = clampTo(static_cast<qint64>(std::ceil(x.upper)), w.colBegin + 1, m_heatmap.cols);
    w.rowBegin = clampTo(static_cast<qint64>(std::floor(y.lower)), 0, m_heatmap.rows - 1);
    w.rowEnd = clampTo(static_cast<qint64>(std::ceil(y.upper)), w.rowBegin + 1, m_heatmap.rows);
    const QRect pixels = m_plot->axisRect()->rect();
    const qint64 width = pixels.width() > 1 ? pixels.width() : kFallbackPixels;
    const qint64 height = pixels.height() > 1 ? pixels.height() : kFallbackPixels;
    w.outCols = static_cast<int>(std::min(width, w.colEnd - w.colBegin));
    w.outRows = static_cast<int>(std::min(height, w.rowEnd - w.rowBegin));
    return w;
}

QString HeatmapView::reductionText() const
{
    return m_info->text();
}

void HeatmapView::setAxisRanges(double xLower, double xUpper, double yLower, double yUpper)
{
    m_settingRanges = true;
    m_plot->xAxis->setRange(xLower, xUpper);
    m_plot->yAxis->setRange(yLower, yUpper);
    m_settingRanges = false;
}

void HeatmapView::onRangeChanged()
{
    if (m_settingRanges || !m_hasData)
        return;
    m_debounce->start(); // restarts: one request when the user pauses
}

void HeatmapView::requestVisibleWindow()
{
    const HeatmapWindow w = visibleWindow();
    if (w.outRows <= 0 || w.outCols <= 0 || w == m_lastRequest)
        return;
    m_lastRequest = w;
    Q_EMIT windowRequested(w.rowBegin, w.rowEnd, w.colBegin, w.colEnd, w.outRows, w.outCols);
}

void HeatmapView::resetZoom()
{
    if (!m_hasData)
        return;
    m_debounce->stop();
    setAxisRanges(0, static_cast<double>(m_heatmap.cols), 0, static_cast<double>(m_heatmap.rows));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    const HeatmapWindow w = visibleWindow();
    m_lastRequest = w;
    m_resetPending = true;
    Q_EMIT windowRequested(w.rowBegin, w.rowEnd, w.colBegin, w.colEnd, w.outRows, w.outCols);
}

void HeatmapView::fillMap()
{
    const Heatmap& h = m_heatmap;
    const CellAxis x = cellAxis(h.colBegin, h.colEnd, h.outCols, h.blockCols);
    const CellAxis y = cellAxis(h.rowBegin, h.rowEnd, h.outRows, h.blockRows);
    auto* data = new QCPColorMapData(x.size, y.size, QCPRange(x.first, x.last), QCPRange(y.first, y.last));
    for (int r = 0; r < y.size; ++r) {
        const int sr = std::min(r, h.outRows - 1);
        for (int c = 0; c < x.size; ++c)
            data->setCell(c, r, static_cast<double>(h.at(sr, std::min(c, h.outCols - 1))));
    }
    m_map->setData(data); // takes ownership
}

void HeatmapView::applyDataRange()
{
    if (!m_hasData)
        return;
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (float v : m_heatmap.values) {
        if (std::isfinite(v)) {
            lo = std::min(lo, static_cast<double>(v));
            hi = std::max(hi, static_cast<double>(v));
        }
    }
    if (!(lo <= hi))
        lo = hi = 0;
    QCPRange range;
    if (m_symmetric->isChecked()) {
        double m = std::max(std::fabs(lo), std::fabs(hi));
        if (m == 0)
            m = 1;
        range = QCPRange(-m, m);
    } else {
        if (hi - lo <= 0) {
            const double pad = lo == 0 ? 1 : 0.01 * std::fabs(lo);
            lo -= pad;
            hi += pad;
        }
        range = QCPRange(lo, hi);
    }
    m_scale->setDataRange(range);
}

void HeatmapView::applyGradient()
{
    const int preset = m_gradient->currentData().toInt();
    QCPColorGradient g
        = preset < 0 ? blueWhiteRed() : QCPColorGradient(static_cast<QCPColorGradient::GradientPreset>(preset));
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(QColor(255, 0, 255)); // NaN cells stand out
    m_scale->setGradient(g);
}

void HeatmapView::updateInfo()
{
    const Heatmap& h = m_heatmap;
    const auto n = [](qint64 v) { return QString::number(v); };
    const qint64 rows = h.rowEnd - h.rowBegin;
    const qint64 cols = h.colEnd - h.colBegin;
    QString text;
    if (rows != h.rows || cols != h.cols)
        text = tr("rows %1–%2, columns %3–%4 of %5 × %6; ")
                   .arg(n(h.rowBegin), n(h.rowEnd), n(h.colBegin), n(h.colEnd), n(h.rows), n(h.cols));
    if (h.blockRows <= 1 && h.blockCols <= 1) {
        text += tr("full resolution (%1 × %2, one element per cell)").arg(n(rows), n(cols));
    } else {
        const QString how = h.reduction == HeatmapReduction::Mean ? tr("mean") : tr("abs-max");
        text += tr("each cell: %1 of a %2 × %3 block (%4 × %5 shown in %6 × %7 cells)")
                    .arg(how, n(h.blockRows), n(h.blockCols), n(rows), n(cols), n(h.outRows), n(h.outCols));
    }
    if (h.field == HeatmapField::Error)
        text += tr("; error = float − dequantized");
    m_info->setText(text);
}

void HeatmapView::showCursor(QMouseEvent* event)
{
    if (!m_hasData || !m_plot->axisRect()->rect().contains(event->position().toPoint())) {
        m_cursor->clear();
        return;
    }
    const double x = m_plot->xAxis->pixelToCoord(event->position().toPoint().x());
    const double y = m_plot->yAxis->pixelToCoord(event->position().toPoint().y());
    const Heatmap& h = m_heatmap;
    if (x < h.colBegin || x >= h.colEnd || y < h.rowBegin || y >= h.rowEnd) {
        m_cursor->clear();
        return;
    }
    const auto row = static_cast<qint64>(y);
    const auto col = static_cast<qint64>(x);
    const int r
        = static_cast<int>(std::min<qint64>((row - h.rowBegin) / std::max<qint64>(h.blockRows, 1), h.outRows - 1));
    const int c
        = static_cast<int>(std::min<qint64>((col - h.colBegin) / std::max<qint64>(h.blockCols, 1), h.outCols - 1));
    m_cursor->setText(tr("row %1, column %2: %3").arg(row).arg(col).arg(formatNumber(h.at(r, c))));
}

} // namespace qs::ui
