#include "module_details_panel.h"

#include "format.h"
#include "histogram_plot.h"
#include "stats/tensor_analysis.h"

#include <QComboBox>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace qs::app {
namespace {

struct AnalysisOutcome
{
    std::shared_ptr<const TensorAnalysis> analysis;
    QString error;
};

QString moduleKindText(ModuleKind kind)
{
    const auto name = moduleKindName(kind);
    return QString::fromLatin1(name.data(), static_cast<int>(name.size()));
}

} // namespace

ModuleDetailsPanel::ModuleDetailsPanel(QWidget* parent)
    : QWidget(parent)
    , m_title(new QLabel(this))
    , m_info(new QLabel(this))
    , m_tensor(new QComboBox(this))
    , m_tensorLabel(new QLabel(tr("Tensor:"), this))
    , m_plot(new ui::HistogramPlot(this))
    , m_metrics(new QLabel(this))
{
    QFont titleFont = m_title->font();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.25);
    titleFont.setBold(true);
    m_title->setFont(titleFont);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_title->setWordWrap(true);
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_metrics->setTextFormat(Qt::RichText);
    m_metrics->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_metrics->setWordWrap(true);
    m_metrics->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_tensor->setSizeAdjustPolicy(QComboBox::AdjustToContents);

    auto* tensorRow = new QHBoxLayout;
    tensorRow->addWidget(m_tensorLabel);
    tensorRow->addWidget(m_tensor);
    tensorRow->addStretch(1);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_title);
    layout->addWidget(m_info);
    layout->addLayout(tensorRow);
    layout->addWidget(m_plot, 1);
    layout->addWidget(m_metrics);

    connect(m_tensor, &QComboBox::currentTextChanged, this, [this](const QString& name) {
        if (!name.isEmpty())
            analyse(name);
    });
    setModel(nullptr);
}

void ModuleDetailsPanel::setModel(LoadedModelPtr model)
{
    m_model = std::move(model);
    m_cache.clear();
    m_shown.reset();
    m_node = -1;
    ++m_generation;
    m_title->setText(m_model ? tr("Select a module") : tr("No checkpoint open"));
    m_info->setText(m_model ? tr("Pick a module in the tree to see its weights.")
                            : tr("Open a checkpoint (File ▸ Open) or the demo model."));
    m_tensor->blockSignals(true);
    m_tensor->clear();
    m_tensor->blockSignals(false);
    m_tensor->setVisible(false);
    m_tensorLabel->setVisible(false);
    m_metrics->clear();
    m_plot->showMessage(QString());
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
        ++m_generation;
        m_shown.reset();
        m_metrics->setText(tr("%1 Linear modules below this one.").arg(n.quantizableCount));
        m_plot->showMessage(tr("A container: select one of its modules to see a distribution"));
        return;
    }
    analyse(m_tensor->currentText());
}

void ModuleDetailsPanel::setScheme(const QuantScheme& scheme)
{
    m_scheme = scheme;
    m_cache.clear();
    if (m_model && m_tensor->count() > 0 && !m_tensor->currentText().isEmpty())
        analyse(m_tensor->currentText());
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

void ModuleDetailsPanel::analyse(const QString& tensor)
{
    const quint64 generation = ++m_generation;
    if (const auto cached = m_cache.value(tensor)) {
        display(*cached);
        Q_EMIT analysisShown(tensor);
        return;
    }
    m_plot->showMessage(tr("Analysing %1 …").arg(tensor));
    m_metrics->setText(QString());
    ++m_pending;
    auto model = m_model;
    const std::string name = tensor.toStdString();
    auto* watcher = new QFutureWatcher<AnalysisOutcome>(this);
    connect(watcher, &QFutureWatcher<AnalysisOutcome>::finished, this, [this, watcher, generation, tensor] {
        watcher->deleteLater();
        --m_pending;
        const AnalysisOutcome outcome = watcher->result();
        if (!outcome.analysis) {
            if (generation == m_generation) {
                m_plot->showMessage(tr("Cannot analyse %1").arg(tensor));
                m_metrics->setText(outcome.error.toHtmlEscaped());
            }
            Q_EMIT analysisFailed(tensor, outcome.error);
            return;
        }
        m_cache.insert(tensor, outcome.analysis);
        if (generation != m_generation)
            return; // the user has moved on; keep the result in the cache only
        display(*outcome.analysis);
        Q_EMIT analysisShown(tensor);
    });
    watcher->setFuture(QtConcurrent::run([model, name, scheme = m_scheme]() {
        AnalysisOutcome outcome;
        try {
            outcome.analysis = std::make_shared<const TensorAnalysis>(
                analyzeTensor(model->checkpoint, model->tree, name, 200, scheme));
        } catch (const std::exception& e) {
            outcome.error = QString::fromStdString(e.what());
        }
        return outcome;
    }));
}

void ModuleDetailsPanel::display(const TensorAnalysis& analysis)
{
    m_shown = m_cache.value(QString::fromStdString(analysis.info.name));
    const QString title = QStringLiteral("%1  (%2, %3)")
                              .arg(QString::fromStdString(analysis.info.name), ui::formatShape(analysis.info.shape),
                                  ui::dtypeText(analysis.info.dtype));
    const QString label = analysis.storedQuantization.empty()
        ? QString()
        : tr("dequantized (stored %1)").arg(QString::fromStdString(analysis.storedQuantization));
    m_plot->setHistograms(title, analysis.original, analysis.quantized ? &analysis.dequantized : nullptr, label,
        tr("dequantized (%1)").arg(QString::fromStdString(analysis.schemeName)));
    updateMetricsText();
}

void ModuleDetailsPanel::updateMetricsText()
{
    if (!m_shown)
        return;
    const TensorAnalysis& a = *m_shown;
    const auto& s = a.summary;
    QString html;
    if (!a.storedQuantization.empty()) {
        html += tr("<b>Stored quantized</b> (%1): the histogram and statistics show the dequantized values.")
                    .arg(QString::fromStdString(a.storedQuantization).toHtmlEscaped());
    } else if (a.quantized) {
        const QString scheme = QString::fromStdString(a.schemeName).toHtmlEscaped();
        html += m_kept
            ? tr("<b>Kept in full precision</b>: exported unchanged. Quantized with %1 it would measure:").arg(scheme)
            : tr("<b>Exported quantized</b> with %1:").arg(scheme);
        html += QStringLiteral("<table cellspacing='6'><tr><td>SQNR</td><td><b>%1 dB</b></td>"
                               "<td>MSE</td><td>%2</td><td>max |error|</td><td>%3</td>"
                               "<td>scales</td><td>%4 … %5</td></tr></table>")
                    .arg(ui::formatNumber(a.error.sqnrDb, 3), ui::formatNumber(a.error.mse, 3),
                        ui::formatNumber(a.error.maxAbsError, 3), ui::formatNumber(a.scaleMin, 3),
                        ui::formatNumber(a.scaleMax, 3));
        if (a.clippedFraction > 0 || a.recomputedRows > 0)
            html += tr("<p>%1% of the values clipped%2</p>")
                        .arg(ui::formatNumber(100.0 * a.clippedFraction, 3))
                        .arg(a.recomputedRows > 0 ? tr("; %1 narrow rows recomputed with SAWB").arg(a.recomputedRows)
                                                  : QString());
    } else {
        html += tr("<b>Exported unchanged</b>: not the weight of a Linear module.");
    }
    // Two rows of three, numbers never broken across lines.
    html += QStringLiteral("<table cellspacing='6'><tr><td>min</td><td nowrap>%1</td><td>max</td><td nowrap>%2</td>"
                           "<td>mean</td><td nowrap>%3</td></tr><tr><td>std</td><td nowrap>%4</td><td>kurtosis</td>"
                           "<td nowrap>%5</td><td>elements</td><td nowrap>%6</td></tr></table>")
                .arg(ui::formatNumber(s.min), ui::formatNumber(s.max), ui::formatNumber(s.mean),
                    ui::formatNumber(s.std), ui::formatNumber(s.kurtosis, 3), ui::formatCount(s.count));
    m_metrics->setText(html);
}

} // namespace qs::app
