// SPDX-License-Identifier: GPL-3.0-or-later
#include "module_details_panel.h"

#include "channel_plot.h"
#include "code_histogram_plot.h"
#include "format.h"
#include "heatmap_view.h"
#include "histogram_plot.h"
#include "qcustomplot_include.h"
#include "statistics_box.h"
#include "stats/heatmap_sampler.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QTabWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

namespace qs::app {
namespace {

QString moduleKindText(ModuleKind kind)
{
    const auto name = moduleKindName(kind);
    return QString::fromLatin1(name.data(), static_cast<int>(name.size()));
}

} // namespace

ModuleDetailsPanel::ModuleDetailsPanel(QWidget* parent)
    : QWidget(parent)
    , m_analysis(this)
    , m_heatmapJob(this)
    , m_title(new QLabel(this))
    , m_info(new QLabel(this))
    , m_tensor(new QComboBox(this))
    , m_tensorLabel(new QLabel(tr("Tensor:"), this))
    , m_tabs(new QTabWidget(this))
    , m_plot(new ui::HistogramPlot)
    , m_statistics(new ui::StatisticsBox)
    , m_codes(new ui::CodeHistogramPlot)
    , m_heatmap(new ui::HeatmapView)
    , m_channels(new ui::ChannelPlot)
    , m_metrics(new QLabel(this))
{
    QFont titleFont = m_title->font();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.25);
    titleFont.setBold(true);
    m_title->setFont(titleFont);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_title->setWordWrap(true);
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_metrics->setObjectName(QStringLiteral("metrics"));
    m_metrics->setTextFormat(Qt::RichText);
    m_metrics->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_metrics->setWordWrap(true);
    m_metrics->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_tensor->setSizeAdjustPolicy(QComboBox::AdjustToContents);

    auto* distribution = new QWidget;
    auto* distributionLayout = new QVBoxLayout(distribution);
    distributionLayout->setContentsMargins(0, 0, 0, 0);
    distributionLayout->addWidget(m_plot, 1);
    distributionLayout->addWidget(m_statistics);
    m_tabs->addTab(distribution, tr("Distribution"));
    m_tabs->addTab(m_codes, tr("Codes"));
    m_tabs->addTab(m_heatmap, tr("Heatmap"));
    m_tabs->addTab(m_channels, tr("Channels"));
    m_tabs->setTabToolTip(DistributionTab, tr("Float and dequantized values, clip lines and statistics"));
    m_tabs->setTabToolTip(CodesTab, tr("How often each int or fp8 code is used; saturation at the ends"));
    m_tabs->setTabToolTip(HeatmapTab, tr("The weight matrix (or its quantization error) reduced to the screen"));
    m_tabs->setTabToolTip(ChannelsTab, tr("Per output channel: std of the int codes, or min/max/mean ranges"));

    auto* tensorRow = new QHBoxLayout;
    tensorRow->addWidget(m_tensorLabel);
    tensorRow->addWidget(m_tensor);
    tensorRow->addStretch(1);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_title);
    layout->addWidget(m_info);
    layout->addLayout(tensorRow);
    layout->addWidget(m_tabs, 1);
    layout->addWidget(m_metrics);

    connect(m_tensor, &QComboBox::currentTextChanged, this, [this](const QString& name) {
        if (!name.isEmpty())
            analyse(name);
    });
    connect(m_plot, &ui::HistogramPlot::binsChanged, this, [this](int bins) {
        m_bins = bins;
        if (!m_requested.isEmpty())
            analyse(m_requested);
    });
    connect(m_heatmap, &ui::HeatmapView::windowRequested, this,
        [this](qint64 r0, qint64 r1, qint64 c0, qint64 c1, int rows, int cols) {
            requestHeatmap(ui::HeatmapWindow { r0, r1, c0, c1, rows, cols });
        });
    connect(m_heatmap, &ui::HeatmapView::settingsChanged, this, [this] {
        if (m_heatmap->hasData())
            requestHeatmap(m_heatmap->visibleWindow());
        else
            requestFullHeatmap();
    });
    setModel(nullptr);
}

ModuleDetailsPanel::~ModuleDetailsPanel() = default;

void ModuleDetailsPanel::setModel(LoadedModelPtr model)
{
    m_model = std::move(model);
    m_cache.clear();
    m_shown.reset();
    m_requested.clear();
    m_analysis.cancel();
    m_heatmapJob.cancel();
    m_node = -1;
    m_title->setText(m_model ? tr("Select a module") : tr("No checkpoint open"));
    m_info->setText(m_model ? tr("Pick a module in the tree to see its weights.")
                            : tr("Open a checkpoint (File ▸ Open) or the demo model."));
    m_tensor->blockSignals(true);
    m_tensor->clear();
    m_tensor->blockSignals(false);
    m_tensor->setVisible(false);
    m_tensorLabel->setVisible(false);
    m_metrics->clear();
    clearViews(QString());
}

void ModuleDetailsPanel::clearViews(const QString& message)
{
    m_plot->showMessage(message);
    m_plot->setClipLines({});
    m_statistics->clear();
    m_codes->showMessage(message);
    m_heatmap->showMessage(message);
    m_channels->showMessage(message);
}

void ModuleDetailsPanel::showModule(int node, bool kept)
{
    if (!m_model || node < 0 || node >= m_model->tree.size())
        return;
    m_node = node;
    m_kept = kept;
    const ModuleNode& n = m_model->tree.node(node);
    m_title->setText(QString::fromStdString(n.path));
    QString info = moduleKindText(n.kind);
    if (!n.weightShape.empty())
        info += tr(" · weight %1 %2").arg(ui::formatShape(n.weightShape), ui::dtypeText(n.weightDType));
    if (n.kind == ModuleKind::Conv1D)
        info += tr(" (Conv1D: stored transposed, [in, out]; measured and quantized per output channel)");
    info += tr(" · %1 parameters").arg(ui::formatCount(n.parameterCount));
    m_info->setText(info);

    m_tensor->blockSignals(true);
    m_tensor->clear();
    for (const auto& t : n.tensors)
        m_tensor->addItem(QString::fromStdString(t));
    const int weight = m_tensor->findText(QString::fromStdString(n.path + ".weight"));
    m_tensor->setCurrentIndex(weight >= 0 ? weight : 0);
    m_tensor->blockSignals(false);
    const bool several = m_tensor->count() > 1;
    m_tensor->setVisible(several);
    m_tensorLabel->setVisible(several);

    if (m_tensor->count() == 0) {
        m_analysis.cancel();
        m_heatmapJob.cancel();
        m_shown.reset();
        m_requested.clear();
        m_metrics->setText(tr("%1 Linear modules below this one.").arg(n.quantizableCount));
        clearViews(tr("A container: select one of its modules to see a distribution"));
        return;
    }
    analyse(m_tensor->currentText());
}

void ModuleDetailsPanel::showTensor(const QString& tensor)
{
    if (!m_model || !m_model->checkpoint.find(tensor.toStdString()))
        return;
    analyse(tensor);
}

void ModuleDetailsPanel::setScheme(const QuantScheme& scheme)
{
    m_scheme = scheme;
    m_schemeKey = QString::fromStdString(schemeToJson(scheme).dump());
    if (m_model && !m_requested.isEmpty())
        analyse(m_requested); // the newest request, which may still be running
}

void ModuleDetailsPanel::setKept(bool kept)
{
    m_kept = kept;
    updateMetricsText();
}

QString ModuleDetailsPanel::currentTensor() const
{
    return m_shown ? QString::fromStdString(m_shown->info.name) : QString();
}

QString ModuleDetailsPanel::cacheKey(const QString& tensor) const
{
    return tensor + QLatin1Char('\n') + QString::number(m_bins) + QLatin1Char('\n') + m_schemeKey;
}

void ModuleDetailsPanel::analyse(const QString& tensor)
{
    m_requested = tensor;
    if (const auto cached = m_cache.find(cacheKey(tensor))) {
        m_analysis.cancel();
        display(cached);
        Q_EMIT analysisShown(tensor);
        return;
    }
    m_plot->showMessage(tr("Analysing %1 …").arg(tensor));
    m_metrics->setText(QString());
    auto model = m_model;
    const std::string name = tensor.toStdString();
    AnalysisOptions options;
    options.bins = m_bins;
    options.scheme = m_scheme;
    const QString key = cacheKey(tensor);
    m_analysis.run(
        [model, name, options](const CancelToken& cancel) mutable {
            options.cancel = cancel;
            return std::make_shared<const TensorAnalysis>(analyzeTensor(model->checkpoint, model->tree, name, options));
        },
        [this, key, tensor](std::shared_ptr<const TensorAnalysis> analysis) {
            m_cache.insert(key, analysis);
            display(std::move(analysis));
            Q_EMIT analysisShown(tensor);
        },
        [this, tensor](const QString& error) {
            clearViews(tr("Cannot analyse %1").arg(tensor));
            m_metrics->setText(error.toHtmlEscaped());
            Q_EMIT analysisFailed(tensor, error);
        });
}

void ModuleDetailsPanel::display(std::shared_ptr<const TensorAnalysis> analysis)
{
    const bool sameTensor = m_shown && m_shown->info.name == analysis->info.name;
    m_shown = std::move(analysis);
    const TensorAnalysis& a = *m_shown;
    const QString name = QString::fromStdString(a.info.name);
    const QString title
        = QStringLiteral("%1  (%2, %3)").arg(name, ui::formatShape(a.info.shape), ui::dtypeText(a.info.dtype));
    const QString label = a.storedQuantization.empty()
        ? QString()
        : tr("dequantized (stored %1)").arg(QString::fromStdString(a.storedQuantization));
    const QString scheme = QString::fromStdString(a.schemeName);
    m_plot->setHistograms(
        title, a.original, a.quantized ? &a.dequantized : nullptr, label, tr("dequantized (%1)").arg(scheme));
    if (!a.storedCodes.empty())
        m_plot->setStoredHistogram(&a.storedDequantized,
            tr("stored codes (%1)").arg(QString::fromStdString(a.storedScheme)));
    m_plot->setClipLines(a.clipLines);
    m_statistics->setStatistics(a.summary);
    if (a.quantized)
        m_codes->setCodes(tr("%1 codes (%2)").arg(name, scheme), a.codes);
    else
        m_codes->showMessage(a.note.empty() ? tr("Not quantized: no codes to show") : QString::fromStdString(a.note));
    m_channels->setChannels(a.quantized ? tr("%1 (%2)").arg(name, scheme) : name, a.channels);
    m_heatmap->setErrorAvailable(a.quantized);
    if (!sameTensor || m_heatmap->field() == HeatmapField::Error || !m_heatmap->hasData())
        requestFullHeatmap();
    updateMetricsText();
}

void ModuleDetailsPanel::requestFullHeatmap()
{
    if (!m_shown)
        return;
    const QCPAxisRect* rect = m_heatmap->plot()->axisRect();
    ui::HeatmapWindow w;
    w.rowBegin = 0;
    w.rowEnd = m_shown->rows;
    w.colBegin = 0;
    w.colEnd = m_shown->cols;
    w.outRows = std::max(rect->height(), 256);
    w.outCols = std::max(rect->width(), 256);
    requestHeatmap(w);
}

void ModuleDetailsPanel::requestHeatmap(const ui::HeatmapWindow& window)
{
    if (!m_shown || !m_model)
        return;
    HeatmapRequest request;
    request.rowBegin = window.rowBegin;
    request.rowEnd = window.rowEnd;
    request.colBegin = window.colBegin;
    request.colEnd = window.colEnd;
    request.outRows = std::max(window.outRows, 1);
    request.outCols = std::max(window.outCols, 1);
    request.reduction = m_heatmap->reduction();
    request.field = m_shown->quantized ? m_heatmap->field() : HeatmapField::Values;
    request.transposed = m_shown->transposed;
    const QString tensor = QString::fromStdString(m_shown->info.name);
    const QString title = request.field == HeatmapField::Error
        ? tr("%1 error (%2)").arg(tensor, QString::fromStdString(m_shown->schemeName))
        : tensor;
    auto model = m_model;
    const std::string name = m_shown->info.name;
    const QuantScheme scheme = m_scheme;
    m_heatmapJob.run(
        [model, name, request, scheme](const CancelToken& cancel) {
            return heatmapOfTensor(model->checkpoint, name, request, scheme, cancel);
        },
        [this, title, tensor](const Heatmap& h) {
            m_heatmap->setHeatmap(title, h);
            Q_EMIT heatmapShown(tensor);
        },
        [this, tensor](const QString& error) { m_heatmap->showMessage(tr("Cannot draw %1: %2").arg(tensor, error)); });
}

void ModuleDetailsPanel::updateMetricsText()
{
    if (!m_shown)
        return;
    const TensorAnalysis& a = *m_shown;
    QString html;
    if (!a.storedCodes.empty()) {
        html += tr("<b>Stored codes</b> %1: %2 (%3). Against this float weight: SQNR <b>%4 dB</b>, max |error| %5.<br>")
                    .arg(QString::fromStdString(a.storedCodes).toHtmlEscaped(),
                        QString::fromStdString(a.storedScheme).toHtmlEscaped(),
                        QString::fromStdString(a.storedSchemeBasis).toHtmlEscaped(),
                        ui::formatNumber(a.storedError.sqnrDb, 3), ui::formatNumber(a.storedError.maxAbsError, 3));
    }
    if (!a.storedQuantization.empty()) {
        html += tr("<b>Stored quantized</b> (%1): the views show the dequantized values.")
                    .arg(QString::fromStdString(a.storedQuantization).toHtmlEscaped());
        if (!a.storedScheme.empty())
            html += tr(" Quantizer: %1 (%2).")
                        .arg(QString::fromStdString(a.storedScheme).toHtmlEscaped(),
                            QString::fromStdString(a.storedSchemeBasis).toHtmlEscaped());
    } else if (a.quantized) {
        const QString scheme = QString::fromStdString(a.schemeName).toHtmlEscaped();
        html += m_kept
            ? tr("<b>Kept in full precision</b>: exported unchanged. Quantized with %1 it would measure:").arg(scheme)
            : tr("<b>Exported quantized</b> with %1:").arg(scheme);
        html += QStringLiteral(
            "<table cellspacing='6'><tr><td>SQNR</td><td nowrap><b>%1 dB</b></td>"
            "<td>MSE</td><td nowrap>%2</td><td>cosine</td><td nowrap>%3</td>"
            "<td>max |error|</td><td nowrap>%4</td><td>scales</td><td nowrap>%5 … %6</td></tr></table>")
                    .arg(ui::formatNumber(a.error.sqnrDb, 3), ui::formatNumber(a.error.mse, 3),
                        ui::formatNumber(a.error.cosine, 6), ui::formatNumber(a.error.maxAbsError, 3),
                        ui::formatNumber(a.scaleMin, 3), ui::formatNumber(a.scaleMax, 3));
        QStringList notes;
        if (a.clippedFraction > 0)
            notes << tr("%1% of the values clipped").arg(ui::formatNumber(100.0 * a.clippedFraction, 3));
        if (a.recomputedRows > 0)
            notes << tr("%1 narrow rows recomputed with SAWB").arg(a.recomputedRows);
        const std::int64_t narrow = countBelow(a.channels.codeStd);
        if (!a.channels.codeStd.empty())
            notes << tr("%1 of %2 channels with code std below %3")
                         .arg(narrow)
                         .arg(a.channels.codeStd.size())
                         .arg(kNarrowStdThreshold);
        if (!notes.isEmpty())
            html += QStringLiteral("<p>%1</p>").arg(notes.join(QStringLiteral("; ")));
    } else if (!a.note.empty()) {
        html += QString::fromStdString(a.note).toHtmlEscaped();
    } else {
        html += tr("<b>Exported unchanged</b>: not the weight of a Linear module.");
    }
    m_metrics->setText(html);
}

} // namespace qs::app
