// SPDX-License-Identifier: GPL-3.0-or-later
#include "layer_table.h"

#include "csv_export.h"
#include "layer_table_model.h"
#include "sensitivity_chart.h"

#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStandardPaths>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>

namespace qs::ui {
namespace {

constexpr int kMinModuleWidth = 220;
constexpr int kMaxModuleWidth = 460;

} // namespace

LayerTable::LayerTable(QWidget* parent)
    : QWidget(parent)
    , m_model(new LayerTableModel(this))
    , m_proxy(new QSortFilterProxyModel(this))
    , m_view(new QTableView(this))
    , m_sqnr(new QDoubleSpinBox(this))
    , m_std(new QDoubleSpinBox(this))
    , m_measure(new QPushButton(tr("Measure"), this))
    , m_export(new QPushButton(tr("Export CSV…"), this))
    , m_status(new QLabel(this))
    , m_chart(new SensitivityChart(this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(LayerTableModel::SortRole);
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(LayerTableModel::SqnrColumn, Qt::AscendingOrder); // the worst first
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setTextElideMode(Qt::ElideMiddle); // the end of a module path tells the most
    m_view->setWordWrap(false);
    m_view->setAlternatingRowColors(true);
    m_view->verticalHeader()->setVisible(false);
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 6);
    m_view->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    m_view->horizontalHeader()->setStretchLastSection(false);
    m_view->horizontalHeader()->setHighlightSections(false);

    m_sqnr->setRange(0, 200);
    m_sqnr->setDecimals(1);
    m_sqnr->setSuffix(tr(" dB"));
    m_sqnr->setValue(m_model->sqnrThreshold());
    m_sqnr->setToolTip(tr("Tint the SQNR of modules below this"));
    m_std->setRange(0, 10000);
    m_std->setDecimals(1);
    m_std->setValue(m_model->stdThreshold());
    m_std->setToolTip(tr("Tint the smallest code std of modules below this"));
    m_measure->setToolTip(tr("Quantize every module's weight with its scheme and measure the error"));
    m_status->setWordWrap(true);

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_measure);
    auto* sqnrLabel = new QLabel(tr("SQNR below:"), this);
    sqnrLabel->setBuddy(m_sqnr);
    controls->addWidget(sqnrLabel);
    controls->addWidget(m_sqnr);
    auto* stdLabel = new QLabel(tr("Code std below:"), this);
    stdLabel->setBuddy(m_std);
    controls->addWidget(stdLabel);
    controls->addWidget(m_std);
    controls->addStretch(1);
    controls->addWidget(m_export);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    // Suggest's measured sensitivity, sorted, under the table once a run gave it.
    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_view);
    splitter->addWidget(m_chart);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    m_chart->hide();
    layout->addWidget(splitter, 1);
    layout->addWidget(m_status);
    connect(m_chart, &SensitivityChart::moduleClicked, this, [this](const QString& path) {
        for (const LayerError& e : m_model->rows()) {
            if (QString::fromStdString(e.module) == path) {
                selectNode(e.node);
                Q_EMIT moduleActivated(e.node);
                return;
            }
        }
    });

    connect(m_measure, &QPushButton::clicked, this, &LayerTable::measureRequested);
    connect(m_export, &QPushButton::clicked, this, &LayerTable::chooseCsvFile);
    connect(m_sqnr, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this](double db) {
        m_model->setSqnrThreshold(db);
        Q_EMIT sqnrThresholdChanged(db);
    });
    connect(m_std, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this](double std) {
        m_model->setStdThreshold(std);
        Q_EMIT stdThresholdChanged(std);
    });
    connect(m_view, &QTableView::clicked, this, &LayerTable::activate);
    connect(m_view, &QTableView::activated, this, &LayerTable::activate);
    // Keyboard navigation selects the module too (moduleSelected); mouse presses and Enter
    // activate it (moduleActivated).
    connect(
        m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& current) {
            if (m_selecting || QGuiApplication::mouseButtons() != Qt::NoButton || !current.isValid())
                return;
            if (const LayerError* e = m_model->row(m_proxy->mapToSource(current).row()))
                Q_EMIT moduleSelected(e->node);
        });
    m_export->setEnabled(false);
}

void LayerTable::setSensitivity(const QHash<QString, double>& kl)
{
    m_model->setSensitivity(kl);
    std::vector<std::pair<QString, double>> bars;
    for (auto it = kl.begin(); it != kl.end(); ++it)
        bars.emplace_back(it.key(), it.value());
    m_chart->setSensitivity(std::move(bars));
    m_chart->setVisible(!kl.isEmpty());
}

void LayerTable::setRows(std::vector<LayerError> rows)
{
    m_model->setRows(std::move(rows));
    m_export->setEnabled(m_model->rowCount() > 0);
    for (int c = 0; c < LayerTableModel::ColumnCount; ++c)
        m_view->resizeColumnToContents(c);
    // Long paths are elided in the middle; keep the column readable without filling the screen.
    const int moduleWidth = m_view->columnWidth(LayerTableModel::ModuleColumn);
    m_view->setColumnWidth(LayerTableModel::ModuleColumn, std::clamp(moduleWidth, kMinModuleWidth, kMaxModuleWidth));
}

void LayerTable::setKept(const QSet<QString>& modules)
{
    m_model->setKept(modules);
}

void LayerTable::setStatus(const QString& status)
{
    m_status->setText(status);
}

void LayerTable::setMeasureEnabled(bool enabled)
{
    m_measure->setEnabled(enabled);
}

double LayerTable::sqnrThreshold() const
{
    return m_sqnr->value();
}

void LayerTable::setSqnrThreshold(double db)
{
    const QSignalBlocker block(m_sqnr);
    m_sqnr->setValue(db);
    m_model->setSqnrThreshold(m_sqnr->value());
}

double LayerTable::stdThreshold() const
{
    return m_std->value();
}

void LayerTable::setStdThreshold(double std)
{
    const QSignalBlocker block(m_std);
    m_std->setValue(std);
    m_model->setStdThreshold(m_std->value());
}

bool LayerTable::selectNode(int node)
{
    const int row = m_model->rowOfNode(node);
    if (row < 0)
        return false;
    const QModelIndex index = m_proxy->mapFromSource(m_model->index(row, 0));
    m_selecting = true;
    m_view->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_selecting = false;
    m_view->scrollTo(index);
    return true;
}

bool LayerTable::exportCsv(const QString& path, QString* error) const
{
    return saveTableAsCsv(m_proxy, path, error, Qt::EditRole);
}

void LayerTable::activate(const QModelIndex& proxyIndex)
{
    if (!proxyIndex.isValid())
        return;
    const LayerError* e = m_model->row(m_proxy->mapToSource(proxyIndex).row());
    if (e)
        Q_EMIT moduleActivated(e->node);
}

void LayerTable::chooseCsvFile()
{
    const QString path = askForCsvFile(this, tr("Export layer table"), QStringLiteral("layer_errors.csv"));
    QString error;
    if (!path.isEmpty() && !exportCsv(path, &error))
        QMessageBox::warning(this, tr("Export layer table"), error);
}

} // namespace qs::ui
