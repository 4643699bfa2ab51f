// SPDX-License-Identifier: GPL-3.0-or-later
#include "code_histogram_plot.h"

#include "count_axis.h"
#include "format.h"
#include "plot_export.h"
#include "qcustomplot_include.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QVBoxLayout>

#include <algorithm>

namespace qs::ui {
namespace {

const QColor kBarColor(31, 119, 180);
const QColor kSaturatedColor(214, 39, 40);

QString percentOf(std::int64_t part, std::int64_t total)
{
    return formatNumber(total > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(total) : 0.0, 3)
        + QStringLiteral(" %");
}

void styleBars(QCPBars* bars, const QColor& color)
{
    bars->setPen(Qt::NoPen);
    bars->setBrush(color);
    bars->setAntialiased(false);
}

} // namespace

CodeHistogramPlot::CodeHistogramPlot(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
    , m_logScale(new QCheckBox(tr("Logarithmic counts"), this))
{
    m_plot->setMinimumSize(320, 220);
    m_plot->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    m_plot->plotLayout()->addElement(0, 0, m_title);

    m_bars = new QCPBars(m_plot->xAxis, m_plot->yAxis);
    m_bars->setName(tr("codes"));
    styleBars(m_bars, kBarColor);
    m_saturated = new QCPBars(m_plot->xAxis, m_plot->yAxis);
    m_saturated->setName(tr("saturated (range ends)"));
    styleBars(m_saturated, kSaturatedColor);

    m_summary = new QCPItemText(m_plot);
    m_summary->setClipToAxisRect(true);
    m_summary->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_summary->position->setCoords(0.01, 0.01);
    m_summary->setPositionAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_summary->setTextAlignment(Qt::AlignLeft);
    m_summary->setPadding(QMargins(4, 2, 4, 2));
    m_summary->setBrush(QBrush(QColor(255, 255, 255, 220)));
    m_summary->setColor(kSaturatedColor.darker(130));

    m_plot->xAxis->setLabel(tr("code"));
    m_plot->yAxis->setLabel(tr("count"));
    m_plot->legend->setVisible(true);
    m_plot->legend->setBrush(QBrush(QColor(255, 255, 255, 220)));
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->axisRect()->setRangeDrag(Qt::Horizontal);
    m_plot->axisRect()->setRangeZoom(Qt::Horizontal);

    connect(m_logScale, &QCheckBox::toggled, this, [this] { applyScale(); });

    auto* controls = new QHBoxLayout;
    controls->addStretch(1);
    controls->addWidget(m_logScale);
    addExportButton(controls, m_plot, [this] { return m_title->text() + QStringLiteral(" codes"); });
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot, 1);
    layout->addLayout(controls);

    m_logScale->setChecked(true); // saturation and rare codes live in the tails
    showMessage(tr("Select a quantized module to see its codes"));
}

void CodeHistogramPlot::setCodes(const QString& title, const CodeHistogram& codes)
{
    const std::size_t n = std::min(codes.levels.size(), codes.counts.size());
    if (n == 0) {
        showMessage(tr("%1: no codes").arg(title));
        return;
    }
    m_title->setText(title);
    QVector<double> keys;
    QVector<double> values;
    keys.reserve(static_cast<int>(n));
    values.reserve(static_cast<int>(n));
    for (std::size_t i = 1; i + 1 < n; ++i) {
        keys << codes.levels[i];
        values << static_cast<double>(codes.counts[i]);
    }
    m_bars->setData(keys, values, true);
    QVector<double> endKeys { codes.levels.front() };
    QVector<double> endValues { static_cast<double>(codes.counts.front()) };
    if (n > 1) {
        endKeys << codes.levels[n - 1];
        endValues << static_cast<double>(codes.counts[n - 1]);
    }
    m_saturated->setData(endKeys, endValues, true);

    const double lo = codes.levels.front();
    const double hi = codes.levels[n - 1];
    if (codes.fp8) { // non-uniform levels: impulses of a fixed pixel width
        for (auto* bars : { m_bars, m_saturated }) {
            bars->setWidthType(QCPBars::wtAbsolute);
            bars->setWidth(2);
        }
        const double pad = 0.02 * std::max(hi - lo, 1.0);
        m_plot->xAxis->setRange(lo - pad, hi + pad);
        m_plot->xAxis->setLabel(tr("fp8 value"));
    } else {
        for (auto* bars : { m_bars, m_saturated }) {
            bars->setWidthType(QCPBars::wtPlotCoords);
            bars->setWidth(1);
        }
        m_plot->xAxis->setRange(lo - 1.5, hi + 1.5);
        m_plot->xAxis->setLabel(tr("integer code"));
    }

    const std::int64_t total = codes.total();
    QString summary
        = tr("saturated: %1 at %2, %3 at %4")
              .arg(percentOf(codes.atMin, total), formatNumber(lo), percentOf(codes.atMax, total), formatNumber(hi));
    summary
        += QLatin1Char('\n') + tr("clipped before rounding: %1 %").arg(formatNumber(100.0 * codes.clippedFraction, 3));
    m_summary->setText(summary);
    m_summary->setVisible(true);
    applyScale();
}

void CodeHistogramPlot::showMessage(const QString& message)
{
    m_title->setText(message);
    m_bars->data()->clear();
    m_saturated->data()->clear();
    m_summary->setText(QString());
    m_summary->setVisible(false);
    m_plot->xAxis->setRange(-1, 1);
    m_plot->yAxis->setRange(0, 1);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void CodeHistogramPlot::setLogScale(bool on)
{
    m_logScale->setChecked(on);
}

bool CodeHistogramPlot::logScale() const
{
    return m_logScale->isChecked();
}

bool CodeHistogramPlot::hasData() const
{
    return !m_bars->data()->isEmpty() || !m_saturated->data()->isEmpty();
}

QString CodeHistogramPlot::saturationText() const
{
    return m_summary->text();
}

void CodeHistogramPlot::applyScale()
{
    const bool log = m_logScale->isChecked();
    double peak = 1;
    for (auto* bars : { m_bars, m_saturated }) {
        for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it)
            peak = std::max(peak, it->value);
    }
    setCountAxis(m_plot->yAxis, log, peak, 4, 1.15); // room for the summary above the tallest bar
    for (auto* bars : { m_bars, m_saturated })
        bars->setBaseValue(log ? 0.8 : 0.0);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace qs::ui
