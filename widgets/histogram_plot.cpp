// SPDX-License-Identifier: GPL-3.0-or-later
#include "histogram_plot.h"

#include "count_axis.h"
#include "plot_export.h"
#include "qcustomplot_include.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace qs::ui {
namespace {

void fill(QCPGraph* graph, const Histogram& h)
{
    QVector<double> keys;
    QVector<double> values;
    keys.reserve(static_cast<int>(h.counts.size()));
    values.reserve(static_cast<int>(h.counts.size()));
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
        keys << h.binCenter(i);
        values << static_cast<double>(h.counts[i]);
    }
    graph->setData(keys, values, true);
}

} // namespace

HistogramPlot::HistogramPlot(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
    , m_logScale(new QCheckBox(tr("Logarithmic counts"), this))
    , m_bins(new QSpinBox(this))
{
    m_plot->setMinimumSize(320, 220);
    m_plot->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    m_plot->plotLayout()->addElement(0, 0, m_title);

    m_original = m_plot->addGraph();
    m_original->setName(tr("original (float)"));
    m_original->setLineStyle(QCPGraph::lsStepCenter);
    m_original->setPen(QPen(QColor(31, 119, 180), 1.5));
    m_original->setBrush(QBrush(QColor(31, 119, 180, 60)));
    m_original->setAdaptiveSampling(false);

    m_dequantized = m_plot->addGraph();
    m_dequantized->setName(tr("dequantized (int8)"));
    m_dequantized->setLineStyle(QCPGraph::lsStepCenter);
    m_dequantized->setPen(QPen(QColor(214, 39, 40), 1.2));
    m_dequantized->setAdaptiveSampling(false);

    m_stored = m_plot->addGraph();
    m_stored->setName(tr("stored codes, dequantized"));
    m_stored->setLineStyle(QCPGraph::lsStepCenter);
    m_stored->setPen(QPen(QColor(44, 160, 44), 1.4, Qt::DashLine));
    m_stored->setAdaptiveSampling(false);
    m_stored->setVisible(false);
    m_stored->removeFromLegend();

    m_plot->xAxis->setLabel(tr("value"));
    m_plot->yAxis->setLabel(tr("count"));
    m_plot->legend->setVisible(true);
    m_plot->legend->setBrush(QBrush(QColor(255, 255, 255, 220)));
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->axisRect()->setRangeDrag(Qt::Horizontal);
    m_plot->axisRect()->setRangeZoom(Qt::Horizontal);

    m_bins->setRange(10, 2000);
    m_bins->setValue(200);
    m_bins->setKeyboardTracking(false); // one recomputation per edit, not per keystroke
    m_bins->setToolTip(tr("Number of equal-width bins"));

    connect(m_logScale, &QCheckBox::toggled, this, [this] { applyScale(); });
    connect(m_bins, qOverload<int>(&QSpinBox::valueChanged), this, &HistogramPlot::binsChanged);

    auto* controls = new QHBoxLayout;
    auto* binsLabel = new QLabel(tr("Bins:"), this);
    binsLabel->setBuddy(m_bins);
    controls->addWidget(binsLabel);
    controls->addWidget(m_bins);
    controls->addStretch(1);
    controls->addWidget(m_logScale);
    addExportButton(controls, m_plot, [this] { return m_title->text(); });
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot, 1);
    layout->addLayout(controls);

    m_logScale->setChecked(true); // outliers and clipping live in the tails
    showMessage(tr("Select a module to see its weight distribution"));
}

void HistogramPlot::setHistograms(const QString& title, const Histogram& original, const Histogram* dequantized,
    const QString& originalLabel, const QString& dequantizedLabel)
{
    m_title->setText(title);
    m_original->setName(originalLabel.isEmpty() ? tr("original (float)") : originalLabel);
    m_dequantized->setName(dequantizedLabel.isEmpty() ? tr("dequantized (int8)") : dequantizedLabel);
    fill(m_original, original);
    const bool withDeq = dequantized && !dequantized->empty();
    if (withDeq)
        fill(m_dequantized, *dequantized);
    else
        m_dequantized->data()->clear();
    m_dequantized->setVisible(withDeq);
    m_dequantized->removeFromLegend();
    if (withDeq)
        m_dequantized->addToLegend();
    m_stored->data()->clear();
    m_stored->setVisible(false);
    m_stored->removeFromLegend();
    m_dataLo = original.lo;
    m_dataHi = original.hi;
    applyXRange();
    applyScale();
}

void HistogramPlot::setStoredHistogram(const Histogram* stored, const QString& label)
{
    const bool on = stored && !stored->empty();
    m_stored->removeFromLegend();
    if (on) {
        fill(m_stored, *stored);
        m_stored->setName(label);
        m_stored->addToLegend();
    } else {
        m_stored->data()->clear();
    }
    m_stored->setVisible(on);
    applyScale();
}

bool HistogramPlot::hasStoredHistogram() const
{
    return m_stored->visible() && !m_stored->data()->isEmpty();
}

void HistogramPlot::setClipLines(const std::vector<double>& xs)
{
    for (auto* item : m_clipItems)
        m_plot->removeItem(item);
    m_clipItems.clear();
    m_clipXs.clear();
    QPen pen(QColor(110, 60, 160), 1.2, Qt::DashLine);
    for (double x : xs) {
        if (!std::isfinite(x))
            continue;
        auto* line = new QCPItemStraightLine(m_plot);
        line->setPen(pen);
        line->setSelectable(false);
        line->point1->setCoords(x, 1); // valid on linear and log axes
        line->point2->setCoords(x, 10);
        m_clipItems.push_back(line);
        m_clipXs.push_back(x);
    }
    applyXRange();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HistogramPlot::applyXRange()
{
    double lo = m_dataLo;
    double hi = m_dataHi;
    for (double x : m_clipXs) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
    }
    if (!m_clipXs.empty()) { // keep lines at the edge off the axis
        const double pad = 0.02 * (hi - lo > 0 ? hi - lo : 1.0);
        lo -= pad;
        hi += pad;
    }
    m_plot->xAxis->setRange(lo, hi);
}

void HistogramPlot::showMessage(const QString& message)
{
    m_title->setText(message);
    m_original->data()->clear();
    m_dequantized->data()->clear();
    m_stored->data()->clear();
    m_stored->setVisible(false);
    m_stored->removeFromLegend();
    setClipLines({});
    m_dataLo = -1;
    m_dataHi = 1;
    m_plot->xAxis->setRange(-1, 1);
    m_plot->yAxis->setRange(0, 1);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HistogramPlot::setLogScale(bool on)
{
    m_logScale->setChecked(on);
}

bool HistogramPlot::logScale() const
{
    return m_logScale->isChecked();
}

int HistogramPlot::bins() const
{
    return m_bins->value();
}

void HistogramPlot::setBins(int bins)
{
    const QSignalBlocker block(m_bins);
    m_bins->setValue(bins);
}

bool HistogramPlot::hasData() const
{
    return !m_original->data()->isEmpty();
}

void HistogramPlot::applyScale()
{
    const bool log = m_logScale->isChecked();
    double peak = 1;
    for (auto* g : { m_original, m_dequantized, m_stored }) {
        for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
            peak = std::max(peak, it->value);
    }
    setCountAxis(m_plot->yAxis, log, peak, 2, 1.08);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace qs::ui
