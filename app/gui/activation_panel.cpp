// SPDX-License-Identifier: GPL-3.0-or-later
#include "activation_panel.h"

#include "channel_plot.h"
#include "format.h"
#include "heatmap_view.h"
#include "histogram_plot.h"
#include "runtime/activation_store.h"
#include "stats/heatmap_sampler.h"

#include <QComboBox>
#include <QCompleter>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTabWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace qs::app {
namespace {

// The capture's fine histogram merged into about `bins` bins (whole groups of fine bins).
Histogram rebinned(const Histogram& h, int bins)
{
    if (h.counts.empty() || bins <= 0 || static_cast<std::size_t>(bins) >= h.counts.size())
        return h;
    const std::size_t group = (h.counts.size() + static_cast<std::size_t>(bins) - 1) / static_cast<std::size_t>(bins);
    Histogram out = h;
    out.counts.assign((h.counts.size() + group - 1) / group, 0);
    for (std::size_t i = 0; i < h.counts.size(); ++i)
        out.counts[i / group] += h.counts[i];
    out.hi = h.lo + static_cast<double>(out.counts.size() * group) * h.binWidth();
    return out;
}

} // namespace

ActivationPanel::ActivationPanel(QWidget* parent)
    : QWidget(parent)
    , m_source(new QLabel(this))
    , m_point(new QComboBox(this))
    , m_summary(new QLabel(this))
    , m_tabs(new QTabWidget(this))
    , m_histogram(new ui::HistogramPlot)
    , m_channels(new ui::ChannelPlot)
    , m_heatmap(new ui::HeatmapView)
{
    m_source->setWordWrap(true);
    m_summary->setWordWrap(true);
    m_summary->setTextFormat(Qt::RichText);
    m_point->setEditable(true);
    m_point->setInsertPolicy(QComboBox::NoInsert);
    m_point->completer()->setFilterMode(Qt::MatchContains);
    m_point->completer()->setCompletionMode(QCompleter::PopupCompletion);
    m_point->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_point->setMinimumContentsLength(34);
    m_channels->setMode(ui::ChannelPlot::Mode::Ranges);
    m_tabs->addTab(m_histogram, tr("Histogram"));
    m_tabs->addTab(m_channels, tr("Channels"));
    m_tabs->addTab(m_heatmap, tr("Tokens × channels"));

    auto* openButton = new QPushButton(tr("Open…"), this);
    auto* saveButton = new QPushButton(tr("Save…"), this);
    openButton->setToolTip(tr("Reopen a capture saved as HDF5 (quantscope-cli calibrate writes the same file)"));
    saveButton->setToolTip(tr("Save this capture as HDF5"));
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Point:"), this));
    row->addWidget(m_point, 1);
    row->addWidget(openButton);
    row->addWidget(saveButton);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_source);
    layout->addLayout(row);
    layout->addWidget(m_tabs, 1);
    layout->addWidget(m_summary);

    connect(m_point, &QComboBox::currentTextChanged, this, &ActivationPanel::showPoint);
    m_histogram->setBins(256);
    connect(m_histogram, &ui::HistogramPlot::binsChanged, this, [this] { showPoint(m_point->currentText()); });
    connect(openButton, &QPushButton::clicked, this, &ActivationPanel::open);
    connect(saveButton, &QPushButton::clicked, this, &ActivationPanel::save);
    connect(m_heatmap, &ui::HeatmapView::windowRequested, this, &ActivationPanel::updateHeatmap);
    connect(m_heatmap, &ui::HeatmapView::settingsChanged, this, [this] {
        if (const ActivationStats* s = current())
            updateHeatmap(0, s->sampleRows, 0, s->channels, 512, 1024);
    });
    setCapture(nullptr, QString());
}

int ActivationPanel::pointCount() const
{
    return m_points ? static_cast<int>(m_points->size()) : 0;
}

void ActivationPanel::setCapture(std::shared_ptr<const std::vector<ActivationStats>> points, const QString& source)
{
    m_points = std::move(points);
    m_source->setText(m_points
            ? tr("<b>%1 capture points</b> from %2").arg(m_points->size()).arg(source.toHtmlEscaped())
            : tr("No capture yet: choose data in the Evaluate tab and press <i>Capture "
                 "Activations</i>, or open a saved capture."));
    m_point->blockSignals(true);
    m_point->clear();
    if (m_points) {
        for (const ActivationStats& s : *m_points)
            m_point->addItem(QString::fromStdString(s.point));
    }
    m_point->blockSignals(false);
    if (m_points && !m_points->empty())
        showPoint(m_point->itemText(0));
    else {
        m_histogram->showMessage(tr("No activations captured"));
        m_channels->showMessage(QString());
        m_heatmap->showMessage(QString());
        m_summary->clear();
    }
}

const ActivationStats* ActivationPanel::current() const
{
    if (!m_points)
        return nullptr;
    const std::string name = m_point->currentText().toStdString();
    for (const ActivationStats& s : *m_points) {
        if (s.point == name)
            return &s;
    }
    return nullptr;
}

void ActivationPanel::showPoint(const QString& point)
{
    if (m_point->currentText() != point) {
        const int i = m_point->findText(point);
        if (i < 0)
            return;
        m_point->setCurrentIndex(i);
        return; // currentTextChanged comes back here
    }
    const ActivationStats* s = current();
    if (!s)
        return;
    const QString title = QString::fromStdString(s->point);
    m_histogram->setHistograms(title, rebinned(s->histogram, m_histogram->bins()), nullptr,
        tr("activations (%1)").arg(QString::fromStdString(s->kind)));
    if (s->channels > 0) {
        ChannelStatistics c;
        c.min = s->min;
        c.max = s->max;
        c.mean = s->mean;
        c.absMax = s->absMax;
        c.std.resize(s->mean.size());
        for (std::size_t i = 0; i < c.std.size(); ++i)
            c.std[i]
                = static_cast<float>(std::sqrt(std::max(0.0, double(s->sqMean[i]) - double(s->mean[i]) * s->mean[i])));
        m_channels->setChannels(title, c);
        updateHeatmap(0, s->sampleRows, 0, s->channels, 512, 1024);
    } else {
        m_channels->showMessage(tr("%1 has no channels (attention scores)").arg(title));
        m_heatmap->showMessage(tr("%1 has no channels (attention scores)").arg(title));
    }
    double largest = 0;
    for (float a : s->absMax)
        largest = std::max<double>(largest, a);
    QString html = tr("%1 tokens · range %2 … %3")
                       .arg(ui::formatCount(s->tokens), ui::formatNumber(s->globalMin), ui::formatNumber(s->globalMax));
    if (s->channels > 0) {
        std::vector<float> sorted = s->absMax;
        std::sort(sorted.begin(), sorted.end());
        const double median = sorted.empty() ? 0 : sorted[sorted.size() / 2];
        html += tr(" · %1 channels · largest channel abs-max %2 (%3× the median: outlier channels are what "
                   "SmoothQuant moves into the weights)")
                    .arg(s->channels)
                    .arg(ui::formatNumber(largest))
                    .arg(ui::formatNumber(median > 0 ? largest / median : 0, 3));
    }
    if (s->histogram.nonFinite > 0)
        html += tr(" · %1 values not finite, left out (a causal mask's -inf)")
                    .arg(ui::formatCount(static_cast<std::int64_t>(s->histogram.nonFinite)));
    m_summary->setText(html);
}

void ActivationPanel::updateHeatmap(qint64 r0, qint64 r1, qint64 c0, qint64 c1, int rows, int cols)
{
    const ActivationStats* s = current();
    if (!s || s->channels == 0 || s->sampleRows == 0)
        return;
    HeatmapRequest r;
    r.rowBegin = r0;
    r.rowEnd = r1;
    r.colBegin = c0;
    r.colEnd = c1;
    r.outRows = std::max(rows, 1);
    r.outCols = std::max(cols, 1);
    r.reduction = m_heatmap->reduction();
    try {
        m_heatmap->setErrorAvailable(false);
        m_heatmap->setHeatmap(QString::fromStdString(s->point) + tr(" (first %1 tokens)").arg(s->sampleRows),
            reduceMatrix(s->sample, s->sampleRows, s->channels, r));
    } catch (const std::exception& e) {
        m_heatmap->showMessage(QString::fromStdString(e.what()));
    }
}

void ActivationPanel::save()
{
    if (!m_points)
        return;
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Save the capture"), QStringLiteral("activations.h5"), tr("HDF5 (*.h5 *.hdf5)"));
    if (path.isEmpty())
        return;
    try {
        writeActivationsHdf5(path.toStdString(), *m_points, nlohmann::json::object());
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromStdString(e.what()));
    }
}

void ActivationPanel::open()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open a capture"), QString(), tr("HDF5 (*.h5 *.hdf5)"));
    if (path.isEmpty())
        return;
    try {
        setCapture(std::make_shared<const std::vector<ActivationStats>>(readActivationsHdf5(path.toStdString())), path);
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromStdString(e.what()));
    }
}

} // namespace qs::app
