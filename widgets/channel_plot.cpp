// SPDX-License-Identifier: GPL-3.0-or-later
#include "channel_plot.h"

#include "csv_export.h"
#include "format.h"
#include "plot_export.h"
#include "qcustomplot_include.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QSaveFile>
#include <QSignalBlocker>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace qs::ui {
namespace {

constexpr int kMarkersUpTo = 512; // channels drawn with a dot each up to this count

const QColor kAfterColor(31, 119, 180);
const QColor kBeforeColor(150, 150, 150);
const QColor kBelowColor(214, 39, 40);
const QColor kThresholdColor(214, 39, 40);

void fill(QCPGraph* graph, const std::vector<float>& values)
{
    QVector<double> keys;
    QVector<double> data;
    keys.reserve(static_cast<int>(values.size()));
    data.reserve(static_cast<int>(values.size()));
    for (std::size_t i = 0; i < values.size(); ++i) {
        keys << static_cast<double>(i);
        data << static_cast<double>(values[i]);
    }
    graph->setData(keys, data, true);
}

// Finite bounds of several series; false when there is none.
bool bounds(std::initializer_list<const std::vector<float>*> series, double& lo, double& hi)
{
    lo = std::numeric_limits<double>::infinity();
    hi = -lo;
    for (const auto* s : series) {
        for (float v : *s) {
            if (std::isfinite(v)) {
                lo = std::min(lo, static_cast<double>(v));
                hi = std::max(hi, static_cast<double>(v));
            }
        }
    }
    return lo <= hi;
}

void showInLegend(QCPGraph* graph, bool on)
{
    graph->setVisible(on);
    graph->removeFromLegend();
    if (on)
        graph->addToLegend();
}

} // namespace

ChannelPlot::ChannelPlot(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
    , m_mode(new QComboBox(this))
    , m_threshold(new QDoubleSpinBox(this))
    , m_thresholdLabel(new QLabel(tr("Threshold:"), this))
    , m_summary(new QLabel(this))
{
    m_plot->setMinimumSize(320, 220);
    m_plot->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    m_plot->plotLayout()->addElement(0, 0, m_title);

    m_codeStdBefore = m_plot->addGraph();
    m_codeStdBefore->setName(tr("code std before recomputation"));
    m_codeStdBefore->setPen(QPen(kBeforeColor, 1));
    m_codeStd = m_plot->addGraph();
    m_codeStd->setName(tr("code std"));
    m_codeStd->setPen(QPen(kAfterColor, 1.2));
    m_below = m_plot->addGraph();
    m_below->setName(tr("below the threshold"));
    m_below->setLineStyle(QCPGraph::lsNone);
    m_below->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kBelowColor, kBelowColor, 5));
    m_below->setAdaptiveSampling(false);

    m_min = m_plot->addGraph();
    m_min->setName(tr("min"));
    m_min->setPen(QPen(QColor(44, 160, 44), 1));
    m_max = m_plot->addGraph();
    m_max->setName(tr("min … max"));
    m_max->setPen(QPen(QColor(44, 160, 44), 1));
    m_max->setBrush(QBrush(QColor(44, 160, 44, 70)));
    m_max->setChannelFillGraph(m_min);
    m_mean = m_plot->addGraph();
    m_mean->setName(tr("mean"));
    m_mean->setPen(QPen(QColor(0, 0, 0), 1.2));

    m_thresholdLine = new QCPItemStraightLine(m_plot);
    m_thresholdLine->setPen(QPen(kThresholdColor, 1.5, Qt::DashLine));
    m_thresholdLine->setSelectable(false);
    m_notice = new QCPItemText(m_plot);
    m_notice->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_notice->position->setCoords(0.5, 0.5);
    m_notice->setPositionAlignment(Qt::AlignCenter);
    m_notice->setColor(QColor(100, 100, 100));
    m_notice->setText(tr("Not quantized: there are no codes.\nChoose a scheme, or look at the ranges."));

    m_plot->xAxis->setLabel(tr("output channel"));
    m_plot->legend->setVisible(true);
    m_plot->legend->setBrush(QBrush(QColor(255, 255, 255, 220)));
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->axisRect()->setRangeDrag(Qt::Horizontal);
    m_plot->axisRect()->setRangeZoom(Qt::Horizontal);

    m_mode->addItem(tr("Code std"), int(Mode::CodeStd));
    m_mode->addItem(tr("Ranges"), int(Mode::Ranges));
    m_mode->setToolTip(tr("Code std: the spread of each channel's int codes against the threshold.\n"
                          "Ranges: each channel's min, max and mean."));
    m_threshold->setRange(0, 10000);
    m_threshold->setDecimals(1);
    m_threshold->setValue(kNarrowStdThreshold);
    m_threshold->setToolTip(
        tr("Channels whose code std lies below this are too narrow (fms-mo asks for 20 with int8)"));
    m_thresholdLabel->setBuddy(m_threshold);
    m_summary->setWordWrap(true);

    connect(m_mode, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { applyMode(); });
    connect(m_threshold, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this](double t) {
        updateBelow();
        applyMode();
        Q_EMIT thresholdChanged(t);
    });

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_mode);
    controls->addWidget(m_thresholdLabel);
    controls->addWidget(m_threshold);
    controls->addStretch(1);
    addExportButton(controls, m_plot, [this] {
        return m_title->text() + (mode() == Mode::Ranges ? QStringLiteral(" ranges") : QStringLiteral(" code std"));
    });
    auto* csv = new QToolButton(this);
    csv->setText(tr("CSV…"));
    csv->setToolTip(tr("Save the per-channel numbers as CSV"));
    controls->addWidget(csv);
    connect(csv, &QToolButton::clicked, this, [this] {
        if (!hasData())
            return;
        const QString path = QFileDialog::getSaveFileName(this, tr("Save the channels as CSV"),
            plotFileBaseName(m_title->text()) + QStringLiteral("_channels.csv"), csvFileFilter());
        QString error;
        if (!path.isEmpty() && !saveCsv(path, &error))
            QMessageBox::warning(this, tr("Cannot save"), error);
    });
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot, 1);
    layout->addWidget(m_summary);
    layout->addLayout(controls);

    showMessage(tr("Select a module to see its channels"));
}

bool ChannelPlot::saveCsv(const QString& path, QString* error) const
{
    const ChannelStatistics& c = m_channels;
    auto number = [](const std::vector<float>& v, std::size_t i) {
        return i < v.size() ? QString::number(static_cast<double>(v[i]), 'g', 9) : QString();
    };
    QString text = QStringLiteral("channel,min,max,mean,std,abs_max,code_std,code_std_before\r\n");
    for (std::size_t i = 0; i < static_cast<std::size_t>(c.size()); ++i) {
        text += QString::number(i);
        for (const auto* v : { &c.min, &c.max, &c.mean, &c.std, &c.absMax, &c.codeStd, &c.codeStdBefore })
            text += QLatin1Char(',') + number(*v, i);
        text += QStringLiteral("\r\n");
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(text.toUtf8()) < 0 || !file.commit()) {
        if (error)
            *error = tr("Cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

void ChannelPlot::setChannels(const QString& title, const ChannelStatistics& channels)
{
    if (channels.size() == 0) {
        showMessage(tr("%1: no channels").arg(title));
        return;
    }
    m_channels = channels;
    m_title->setText(title);
    fillGraphs();
    updateBelow();
    applyMode();
}

void ChannelPlot::showMessage(const QString& message)
{
    m_channels = ChannelStatistics();
    m_title->setText(message);
    fillGraphs();
    updateBelow();
    applyMode();
}

bool ChannelPlot::hasData() const
{
    return m_channels.size() > 0;
}

ChannelPlot::Mode ChannelPlot::mode() const
{
    return static_cast<Mode>(m_mode->currentData().toInt());
}

void ChannelPlot::setMode(Mode mode)
{
    m_mode->setCurrentIndex(m_mode->findData(int(mode)));
}

double ChannelPlot::threshold() const
{
    return m_threshold->value();
}

void ChannelPlot::setThreshold(double threshold)
{
    {
        const QSignalBlocker block(m_threshold);
        m_threshold->setValue(threshold);
    }
    updateBelow();
    applyMode();
}

int ChannelPlot::belowCount() const
{
    return static_cast<int>(countBelow(m_channels.codeStd, threshold()));
}

QString ChannelPlot::summaryText() const
{
    return m_summary->text();
}

void ChannelPlot::fillGraphs()
{
    const ChannelStatistics& c = m_channels;
    fill(m_codeStd, c.codeStd);
    fill(m_codeStdBefore, c.codeStdBefore);
    fill(m_min, c.min);
    fill(m_max, c.max);
    fill(m_mean, c.mean);
    const bool markers = c.size() <= kMarkersUpTo;
    m_codeStd->setScatterStyle(markers ? QCPScatterStyle(QCPScatterStyle::ssDisc, 3) : QCPScatterStyle());
    m_codeStdBefore->setScatterStyle(markers ? QCPScatterStyle(QCPScatterStyle::ssCircle, 3) : QCPScatterStyle());
    // Many channels: adaptive sampling keeps the extremes of the pixel columns.
    for (auto* g : { m_codeStd, m_codeStdBefore, m_min, m_max, m_mean })
        g->setAdaptiveSampling(!markers);
    const double n = static_cast<double>(std::max<std::int64_t>(c.size(), 1));
    m_plot->xAxis->setRange(-0.5, n - 0.5);
}

void ChannelPlot::updateBelow()
{
    QVector<double> keys;
    QVector<double> values;
    const double t = threshold();
    for (std::size_t i = 0; i < m_channels.codeStd.size(); ++i) {
        if (m_channels.codeStd[i] < t) {
            keys << static_cast<double>(i);
            values << static_cast<double>(m_channels.codeStd[i]);
        }
    }
    m_below->setData(keys, values, true);
    m_thresholdLine->point1->setCoords(0, t);
    m_thresholdLine->point2->setCoords(1, t);
}

void ChannelPlot::applyMode()
{
    const ChannelStatistics& c = m_channels;
    const bool codeMode = mode() == Mode::CodeStd;
    const bool haveCodes = !c.codeStd.empty();
    const bool showCodes = codeMode && haveCodes;
    showInLegend(m_codeStdBefore, showCodes && !c.codeStdBefore.empty());
    showInLegend(m_codeStd, showCodes);
    showInLegend(m_below, showCodes && !m_below->data()->isEmpty());
    showInLegend(m_min, false);
    m_min->setVisible(!codeMode && hasData());
    showInLegend(m_max, !codeMode && hasData());
    showInLegend(m_mean, !codeMode && hasData());
    m_thresholdLine->setVisible(showCodes);
    m_notice->setVisible(codeMode && hasData() && !haveCodes);
    m_threshold->setEnabled(codeMode);
    m_thresholdLabel->setEnabled(codeMode);
    m_plot->legend->setVisible(hasData() && (showCodes || !codeMode));

    double lo = 0;
    double hi = 1;
    if (showCodes) {
        bounds({ &c.codeStd, &c.codeStdBefore }, lo, hi);
        m_plot->yAxis->setRange(0, std::max(hi, threshold()) * 1.12 + 1e-9);
        m_plot->yAxis->setLabel(tr("std of the int codes"));
    } else if (!codeMode && bounds({ &c.min, &c.max }, lo, hi)) {
        const double pad = 0.05 * (hi - lo > 0 ? hi - lo : std::max(std::fabs(hi), 1.0));
        m_plot->yAxis->setRange(lo - pad, hi + pad);
        m_plot->yAxis->setLabel(tr("value"));
    } else {
        m_plot->yAxis->setRange(0, 1);
        m_plot->yAxis->setLabel(QString());
    }

    QString summary;
    if (hasData() && codeMode && haveCodes) {
        const QString t = formatNumber(threshold());
        summary = tr("%1 of %2 channels below %3").arg(belowCount()).arg(c.size()).arg(t);
        if (!c.codeStdBefore.empty())
            summary += tr(" (before recomputation: %1)").arg(countBelow(c.codeStdBefore, threshold()));
    } else if (hasData() && !codeMode) {
        summary = tr("%1 channels; %2 with an abs-max above %3 × the median (outlier channels)")
                      .arg(c.size())
                      .arg(countOutlierChannels(c))
                      .arg(formatNumber(kOutlierChannelFactor));
    }
    m_summary->setText(summary);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace qs::ui
