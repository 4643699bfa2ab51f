// SPDX-License-Identifier: GPL-3.0-or-later
#include "sensitivity_chart.h"

#include "plot_export.h"
#include "qcustomplot_include.h"

#include <QHBoxLayout>
#include <QVBoxLayout>

#include <algorithm>

namespace qs::ui {
namespace {

constexpr std::size_t kBars = 24;

// "model.layers.12.self_attn.q_proj" -> "12.self_attn.q_proj": the bar labels.
QString shortName(const QString& path)
{
    const int at = path.indexOf(QStringLiteral("layers."));
    return at >= 0 ? path.mid(at + 7) : path;
}

} // namespace

SensitivityChart::SensitivityChart(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
{
    m_plot->setObjectName(QStringLiteral("sensitivityChart"));
    m_plot->setMinimumSize(300, 220);
    m_plot->plotLayout()->insertRow(0);
    m_plot->plotLayout()->addElement(0, 0,
        new QCPTextElement(m_plot, tr("Most sensitive modules"), QFont(font().family(), font().pointSize() + 1, QFont::Bold)));
    m_bars = new QCPBars(m_plot->yAxis, m_plot->xAxis);
    m_bars->setPen(Qt::NoPen);
    m_bars->setBrush(QColor(214, 39, 40, 170));
    m_bars->setWidth(0.7);
    m_bars->setSelectable(QCP::stSingleData);
    m_plot->setInteractions(QCP::iSelectPlottables);
    m_plot->xAxis->setLabel(tr("KL per token with only this module quantized"));
    m_plot->yAxis->setTickLabelFont(QFont(font().family(), font().pointSize() - 2));
    m_plot->yAxis->setRangeReversed(true);
    m_plot->yAxis->grid()->setVisible(false);
    m_plot->setToolTip(tr("Click a bar to select the module"));
    connect(m_plot, &QCustomPlot::plottableClick, this, [this](QCPAbstractPlottable* p, int index, QMouseEvent*) {
        if (p == m_bars && index >= 0 && index < static_cast<int>(m_shown.size()))
            Q_EMIT moduleClicked(m_shown[static_cast<std::size_t>(index)].first);
    });
    auto* controls = new QHBoxLayout;
    controls->addStretch(1);
    addExportButton(controls, m_plot, [] { return QStringLiteral("sensitivity"); });
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot, 1);
    layout->addLayout(controls);
}

void SensitivityChart::setSensitivity(std::vector<std::pair<QString, double>> modules)
{
    std::stable_sort(modules.begin(), modules.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (modules.size() > kBars)
        modules.resize(kBars);
    m_shown = modules;
    QVector<double> keys, values;
    QVector<QString> labels;
    for (std::size_t i = 0; i < modules.size(); ++i) {
        keys << static_cast<double>(i + 1);
        values << modules[i].second;
        labels << shortName(modules[i].first);
    }
    m_bars->setData(keys, values, true);
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    ticker->addTicks(keys, labels);
    m_plot->yAxis->setTicker(ticker);
    m_plot->yAxis->setRange(0.3, static_cast<double>(modules.size()) + 0.7);
    m_plot->xAxis->setRange(0, values.isEmpty() ? 1 : *std::max_element(values.begin(), values.end()) * 1.08);
    m_plot->replot();
}

} // namespace qs::ui
