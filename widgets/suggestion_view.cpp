// SPDX-License-Identifier: GPL-3.0-or-later
#include "suggestion_view.h"

#include "csv_export.h"
#include "plot_export.h"
#include "sensitivity_chart.h"
#include "qcustomplot_include.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QSplitter>
#include <QStandardPaths>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace qs::ui {
namespace {

double mib(std::uint64_t bytes)
{
    return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

QCustomPlot* newPlot(QWidget* parent, const QString& title)
{
    auto* plot = new QCustomPlot(parent);
    plot->setMinimumSize(360, 220);
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(
        0, 0, new QCPTextElement(plot, title, QFont(parent->font().family(), parent->font().pointSize() + 1, QFont::Bold)));
    return plot;
}

} // namespace

SuggestionView::SuggestionView(QWidget* parent)
    : QWidget(parent)
    , m_curve(newPlot(this, tr("Size against predicted perplexity")))
    , m_chart(new SensitivityChart(this))
    , m_message(new QLabel(this))
{
    m_curve->setObjectName(QStringLiteral("suggestCurve"));
    m_float = m_curve->addGraph();
    m_float->setName(tr("float model"));
    m_float->setPen(QPen(QColor(120, 120, 120), 1, Qt::DashLine));
    m_line = m_curve->addGraph();
    m_line->setName(tr("most sensitive kept first"));
    m_line->setPen(QPen(QColor(31, 119, 180), 1.5));
    m_line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
    m_line->setSelectable(QCP::stSingleData);
    m_mark = m_curve->addGraph();
    m_mark->setName(tr("current choice"));
    m_mark->setLineStyle(QCPGraph::lsNone);
    m_mark->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(214, 39, 40), 11));
    m_curve->xAxis->setLabel(tr("exported size (MiB)"));
    m_curve->yAxis->setLabel(tr("predicted perplexity"));
    m_curve->legend->setVisible(true);
    m_curve->legend->setFont(QFont(font().family(), font().pointSize() - 1));
    m_curve->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_curve->setInteractions(QCP::iSelectPlottables);
    m_curve->setToolTip(tr("Click a point to keep that many of the most sensitive modules (as \"suggested\" rules)"));
    connect(m_curve, &QCustomPlot::plottableClick, this,
        [this](QCPAbstractPlottable* plottable, int dataIndex, QMouseEvent*) {
            if (plottable == m_line && dataIndex >= 0 && dataIndex < static_cast<int>(m_points.size()))
                Q_EMIT pointClicked(dataIndex);
        });

    m_message->setWordWrap(true);
    auto* curveBox = new QWidget(this);
    auto* curveLayout = new QVBoxLayout(curveBox);
    curveLayout->setContentsMargins(0, 0, 0, 0);
    curveLayout->addWidget(m_curve, 1);
    auto* curveControls = new QHBoxLayout;
    curveControls->addWidget(m_message, 1);
    auto* csv = new QPushButton(tr("Export CSV…"), curveBox);
    csv->setObjectName(QStringLiteral("suggestCurveCsv"));
    connect(csv, &QPushButton::clicked, this, &SuggestionView::chooseCsvFile);
    curveControls->addWidget(csv);
    addExportButton(curveControls, m_curve, [] { return QStringLiteral("suggest curve"); });
    curveLayout->addLayout(curveControls);
    auto* splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(curveBox);
    splitter->addWidget(m_chart);
    splitter->setSizes({ 500, 500 });
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter);
    clear(tr("Run Suggest to measure every module's sensitivity."));
}

void SuggestionView::clear(const QString& message)
{
    m_points.clear();
    m_selected = -1;
    m_line->data()->clear();
    m_mark->data()->clear();
    m_float->data()->clear();
    m_chart->setSensitivity({});
    m_message->setText(message);
    m_curve->replot();
}

void SuggestionView::setCurve(const std::vector<SuggestionPoint>& points, int selected, double floatPerplexity)
{
    m_points = points;
    QVector<double> x, y;
    for (const SuggestionPoint& p : points) {
        x << mib(p.bytes);
        y << p.perplexity;
    }
    m_line->setData(x, y, true);
    if (!points.empty()) {
        m_float->setData({ x.front(), x.back() }, { floatPerplexity, floatPerplexity }, true);
        m_curve->rescaleAxes();
        const double lo = std::min(floatPerplexity, *std::min_element(y.begin(), y.end()));
        const double hi = *std::max_element(y.begin(), y.end());
        const double pad = std::max(1e-6, (hi - lo) * 0.08);
        m_curve->yAxis->setRange(lo - pad, hi + pad);
        const double xpad = std::max(1e-6, (x.back() - x.front()) * 0.04);
        m_curve->xAxis->setRange(x.front() - xpad, x.back() + xpad);
    }
    m_message->setText(tr("%1 points: from everything quantized (left) to every measured module kept (right). "
                          "Click one to apply it.")
                           .arg(points.size()));
    setSelected(selected);
}

void SuggestionView::setSelected(int index)
{
    m_selected = index >= 0 && index < static_cast<int>(m_points.size()) ? index : -1;
    m_mark->data()->clear();
    if (m_selected >= 0) {
        const SuggestionPoint& p = m_points[static_cast<std::size_t>(m_selected)];
        m_mark->addData(mib(p.bytes), p.perplexity);
    }
    m_curve->replot();
}

void SuggestionView::setSensitivity(std::vector<std::pair<QString, double>> modules)
{
    m_chart->setSensitivity(std::move(modules));
}

bool SuggestionView::exportCurveCsv(const QString& path, QString* error) const
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        if (error)
            *error = tr("Cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    QString text = QStringLiteral("kept,bytes,bits,perplexity,kl_divergence\r\n");
    for (const SuggestionPoint& p : m_points)
        text += QStringLiteral("%1,%2,%3,%4,%5\r\n")
                    .arg(p.kept)
                    .arg(p.bytes)
                    .arg(p.bits, 0, 'g', 10)
                    .arg(p.perplexity, 0, 'g', 10)
                    .arg(p.kl, 0, 'g', 10);
    file.write(text.toUtf8());
    if (!file.commit()) {
        if (error)
            *error = tr("Cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

void SuggestionView::chooseCsvFile()
{
    const QString path = askForCsvFile(this, tr("Export curve"), QStringLiteral("suggest_curve.csv"));
    QString error;
    if (!path.isEmpty() && !exportCurveCsv(path, &error))
        QMessageBox::warning(this, tr("Export curve"), error);
}

} // namespace qs::ui
