// SPDX-License-Identifier: GPL-3.0-or-later
#include "divergence_view.h"

#include "plot_export.h"
#include "qcustomplot_include.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <map>

namespace qs::ui {
namespace {

// A number shown in scientific notation that sorts by its value.
class NumberItem final : public QTableWidgetItem
{
public:
    explicit NumberItem(double value, const QString& text)
        : QTableWidgetItem(text)
    {
        setData(Qt::UserRole, value);
        setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    }
    bool operator<(const QTableWidgetItem& other) const override
    {
        return data(Qt::UserRole).toDouble() < other.data(Qt::UserRole).toDouble();
    }
};

QTableWidgetItem* sortableNumber(double value)
{
    return new NumberItem(value, QString::number(value, 'e', 3));
}

} // namespace

DivergenceView::DivergenceView(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
    , m_table(new QTableWidget(0, 4, this))
    , m_summary(new QLabel(this))
{
    m_plot->setMinimumSize(360, 220);
    m_plot->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    m_plot->plotLayout()->addElement(0, 0, m_title);
    m_stream = m_plot->addGraph();
    m_stream->setName(tr("hidden states vs float"));
    m_stream->setPen(QPen(QColor(214, 39, 40), 2));
    m_stream->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
    m_own = m_plot->addGraph();
    m_own->setName(tr("own error (mean of the layer)"));
    m_own->setPen(QPen(QColor(31, 119, 180), 1.5, Qt::DashLine));
    m_own->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, 5));
    m_plot->xAxis->setLabel(tr("layer"));
    m_plot->yAxis->setLabel(tr("relative MSE"));
    m_plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
    m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    m_plot->yAxis->setNumberFormat(QStringLiteral("eb"));
    m_plot->yAxis->setNumberPrecision(0);
    QSharedPointer<QCPAxisTickerFixed> layers(new QCPAxisTickerFixed);
    layers->setTickStep(1);
    layers->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    m_plot->xAxis->setTicker(layers);
    // The legend in a row under the plot, where it covers no point.
    m_plot->legend->setVisible(true);
    m_plot->axisRect()->insetLayout()->take(m_plot->legend);
    auto* legendRow = new QCPLayoutGrid;
    m_plot->plotLayout()->addElement(2, 0, legendRow);
    legendRow->setMargins(QMargins(5, 0, 5, 5));
    legendRow->addElement(0, 0, m_plot->legend);
    m_plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
    m_plot->legend->setBorderPen(Qt::NoPen);
    m_plot->plotLayout()->setRowStretchFactor(2, 0.001);

    m_table->setHorizontalHeaderLabels({ tr("Module"), tr("Layer"), tr("Own error"), tr("Accumulated") });
    m_table->horizontalHeaderItem(2)->setToolTip(
        tr("Relative MSE of the module's output on the float model's input: its weight and input quantization alone"));
    m_table->horizontalHeaderItem(3)->setToolTip(
        tr("Relative MSE of the module's output on the quantized model's input: everything before it too"));
    m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    for (int c = 1; c < 4; ++c)
        m_table->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setToolTip(tr("Click a module to select it in the tree"));
    connect(m_table, &QTableWidget::cellClicked, this, [this](int row, int) {
        if (const QTableWidgetItem* item = m_table->item(row, 0))
            Q_EMIT moduleActivated(item->data(Qt::UserRole).toString());
    });
    connect(m_table, &QTableWidget::cellActivated, this, [this](int row, int) {
        if (const QTableWidgetItem* item = m_table->item(row, 0))
            Q_EMIT moduleActivated(item->data(Qt::UserRole).toString());
    });
    m_summary->setWordWrap(true);

    auto* plotBox = new QWidget(this);
    auto* plotLayout = new QVBoxLayout(plotBox);
    plotLayout->setContentsMargins(0, 0, 0, 0);
    plotLayout->addWidget(m_plot, 1);
    auto* controls = new QHBoxLayout;
    controls->addWidget(m_summary, 1);
    addExportButton(controls, m_plot, [this] { return m_title->text(); });
    plotLayout->addLayout(controls);
    auto* splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(plotBox);
    splitter->addWidget(m_table);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({ 520, 480 });
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter);
    showMessage(tr("Evaluate with a scheme to see, layer by layer, how far the quantized model's hidden states move "
                   "from the float model's."));
}

void DivergenceView::showMessage(const QString& message)
{
    m_blocks.clear();
    m_title->setText(message);
    m_stream->data()->clear();
    m_own->data()->clear();
    m_table->setRowCount(0);
    m_summary->clear();
    m_plot->xAxis->setRange(0, 1);
    m_plot->yAxis->setRange(1e-6, 1);
    m_plot->replot();
}

void DivergenceView::setDivergence(
    const QString& title, const std::vector<BlockDivergence>& blocks, const std::vector<ModuleDivergence>& modules)
{
    if (blocks.empty()) {
        showMessage(tr("No layer to compare"));
        return;
    }
    m_blocks = blocks;
    m_title->setText(title);
    std::map<std::string, std::pair<double, int>> own; // per layer: sum and count of the own errors
    for (const ModuleDivergence& m : modules) {
        auto& o = own[m.block];
        o.first += m.ownRelativeMse;
        ++o.second;
    }
    QVector<double> x, stream, ownMean, ownX;
    double lo = INFINITY, hi = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const double v = blocks[i].relativeMse;
        if (v > 0) {
            x << static_cast<double>(i);
            stream << v;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        const auto it = own.find(blocks[i].name);
        if (it != own.end() && it->second.first > 0) {
            const double mean = it->second.first / it->second.second;
            ownX << static_cast<double>(i);
            ownMean << mean;
            lo = std::min(lo, mean);
            hi = std::max(hi, mean);
        }
    }
    m_stream->setData(x, stream, true);
    m_own->setData(ownX, ownMean, true);
    m_plot->xAxis->setRange(-0.5, static_cast<double>(blocks.size()) - 0.5);
    if (hi > 0) // whole decades, so that the log axis labels read 10^k
        m_plot->yAxis->setRange(std::pow(10.0, std::floor(std::log10(lo))), std::pow(10.0, std::ceil(std::log10(hi) + 1e-9)));
    else
        m_plot->yAxis->setRange(1e-9, 1);
    m_plot->replot();

    m_table->setSortingEnabled(false);
    m_table->setRowCount(static_cast<int>(modules.size()));
    for (int r = 0; r < static_cast<int>(modules.size()); ++r) {
        const ModuleDivergence& m = modules[static_cast<std::size_t>(r)];
        // The module's name within its layer (the Layer column says which); the full path behind it.
        const QString path = QString::fromStdString(m.module);
        const QString prefix = QString::fromStdString(m.block) + QLatin1Char('.');
        auto* name = new QTableWidgetItem(path.startsWith(prefix) ? path.mid(prefix.size()) : path);
        name->setData(Qt::UserRole, path);
        name->setToolTip(path);
        m_table->setItem(r, 0, name);
        const auto layer = std::find_if(blocks.begin(), blocks.end(), [&](const BlockDivergence& b) {
            return b.name == m.block;
        });
        const auto index = static_cast<double>(layer - blocks.begin());
        m_table->setItem(r, 1, new NumberItem(index, QString::number(index)));
        m_table->setItem(r, 2, sortableNumber(m.ownRelativeMse));
        m_table->setItem(r, 3, sortableNumber(m.accumulatedRelativeMse));
    }
    // Rows stay in the order the modules ran until the user sorts by a column.
    m_table->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
    m_table->setSortingEnabled(true);
    const BlockDivergence& last = blocks.back();
    m_summary->setText(tr("After the last layer the quantized hidden states are %1 (relative MSE) from the float "
                          "ones, mean cosine %2; after the first, %3.")
                           .arg(last.relativeMse, 0, 'e', 2)
                           .arg(last.cosine, 0, 'f', 5)
                           .arg(blocks.front().relativeMse, 0, 'e', 2));
}

} // namespace qs::ui
