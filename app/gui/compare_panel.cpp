// SPDX-License-Identifier: GPL-3.0-or-later
#include "compare_panel.h"

#include "format.h"
#include "histogram_plot.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace qs::app {
namespace {

QString row(const QString& name, double a, double b)
{
    return QStringLiteral("<tr><td>%1</td><td align='right' nowrap>%2</td><td align='right' nowrap>%3</td></tr>")
        .arg(name, ui::formatNumber(a), ui::formatNumber(b));
}

} // namespace

ComparePanel::ComparePanel(QWidget* parent)
    : QWidget(parent)
    , m_open(this)
    , m_job(this)
    , m_sides(new QLabel(this))
    , m_openFile(new QPushButton(tr("Open File…"), this))
    , m_openFolder(new QPushButton(tr("Open Folder…"), this))
    , m_tensor(new QComboBox(this))
    , m_plot(new ui::HistogramPlot(this))
    , m_table(new QLabel(this))
{
    m_sides->setWordWrap(true);
    m_sides->setTextFormat(Qt::RichText);
    m_sides->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_table->setTextFormat(Qt::RichText);
    m_table->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_table->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_tensor->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_tensor->setMinimumContentsLength(30);
    m_tensor->setEnabled(false);

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(new QLabel(tr("Compare with:"), this));
    buttons->addWidget(m_openFile);
    buttons->addWidget(m_openFolder);
    buttons->addSpacing(12);
    buttons->addWidget(new QLabel(tr("Tensor:"), this));
    buttons->addWidget(m_tensor, 1);
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(m_table);
    bottom->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_sides);
    layout->addLayout(buttons);
    layout->addWidget(m_plot, 1);
    layout->addLayout(bottom);

    connect(m_openFile, &QPushButton::clicked, this, [this] { chooseOther(false); });
    connect(m_openFolder, &QPushButton::clicked, this, [this] { chooseOther(true); });
    connect(m_plot, &ui::HistogramPlot::binsChanged, this, [this](int bins) {
        m_bins = bins;
        if (!m_tensor->currentText().isEmpty())
            compare(m_tensor->currentText());
    });
    connect(m_tensor, &QComboBox::currentTextChanged, this, [this](const QString& name) {
        if (!name.isEmpty())
            compare(name);
    });
    setModel(nullptr, QString());
}

void ComparePanel::setModel(LoadedModelPtr model, const QString& path)
{
    m_model = std::move(model);
    m_path = path;
    m_job.cancel();
    m_shown.reset();
    m_table->clear();
    fillTensors();
}

void ComparePanel::chooseOther(bool folder)
{
    const QString start = m_otherPath.isEmpty() ? QFileInfo(m_path).absolutePath() : m_otherPath;
    const QString path = folder ? QFileDialog::getExistingDirectory(this, tr("Compare with a model folder"), start)
                                : QFileDialog::getOpenFileName(this, tr("Compare with a checkpoint"), start,
                                    tr("Checkpoints (*.safetensors *.json *.pt *.pth *.bin *.ckpt);;All files (*)"));
    if (!path.isEmpty())
        openOther(path);
}

void ComparePanel::openOther(const QString& path)
{
    m_sides->setText(tr("Opening %1 …").arg(path.toHtmlEscaped()));
    const std::string file = path.toStdString();
    m_open.run([file](const CancelToken&) { return std::make_shared<const Checkpoint>(Checkpoint::open(file)); },
        [this, path](std::shared_ptr<const Checkpoint> other) {
            m_other = std::move(other);
            m_otherPath = QFileInfo(path).absoluteFilePath();
            fillTensors();
            Q_EMIT otherOpened(m_otherPath);
        },
        [this, path](const QString& error) {
            m_sides->setText(tr("<b>Cannot open %1</b>: %2").arg(path.toHtmlEscaped(), error.toHtmlEscaped()));
            Q_EMIT failed(error);
        });
}

std::string ComparePanel::counterpart(const std::string& name) const
{
    return m_other ? counterpartTensor(*m_other, name) : std::string();
}

void ComparePanel::fillTensors()
{
    const QString a = m_model ? tr("<b>A</b>: %1").arg(m_path.toHtmlEscaped()) : tr("<b>A</b>: no checkpoint open");
    const QString b = m_other ? tr("<b>B</b>: %1").arg(m_otherPath.toHtmlEscaped())
                              : tr("<b>B</b>: open a second checkpoint, for example an export of A");
    m_sides->setText(a + QStringLiteral("<br>") + b);
    const QString previous = m_tensor->currentText();
    m_tensor->blockSignals(true);
    m_tensor->clear();
    if (m_model && m_other) {
        for (const TensorInfo& t : m_model->checkpoint.tensors()) {
            if (t.dtype != DType::BOOL && !counterpart(t.name).empty())
                m_tensor->addItem(QString::fromStdString(t.name));
        }
    }
    m_tensor->blockSignals(false);
    m_tensor->setEnabled(m_tensor->count() > 0);
    if (m_model && m_other && m_tensor->count() == 0) {
        m_plot->showMessage(tr("The two checkpoints have no tensor name in common"));
        return;
    }
    if (m_tensor->count() == 0) {
        m_plot->showMessage(tr("Open a second checkpoint to compare"));
        return;
    }
    int keep = m_tensor->findText(m_preferred);
    if (keep < 0)
        keep = m_tensor->findText(previous);
    m_tensor->setCurrentIndex(keep >= 0 ? keep : 0);
    compare(m_tensor->currentText());
}

void ComparePanel::compare(const QString& tensor)
{
    m_preferred = tensor; // followed once side B is open
    if (!m_model || !m_other)
        return;
    const std::string name = tensor.toStdString();
    const std::string other = counterpart(name);
    if (other.empty())
        return;
    if (m_tensor->currentText() != tensor) {
        const int i = m_tensor->findText(tensor);
        if (i < 0)
            return;
        m_tensor->blockSignals(true);
        m_tensor->setCurrentIndex(i);
        m_tensor->blockSignals(false);
    }
    m_plot->showMessage(tr("Comparing %1 …").arg(tensor));
    auto a = m_model;
    auto b = m_other;
    const int bins = m_bins;
    m_job.run(
        [a, b, name, other, bins](const CancelToken& cancel) {
            return std::make_shared<const TensorComparison>(
                compareTensors(a->checkpoint, name, *b, other, bins, cancel));
        },
        [this, tensor](std::shared_ptr<const TensorComparison> c) {
            showComparison(std::move(c));
            Q_EMIT compared(tensor);
        },
        [this, tensor](const QString& error) {
            m_plot->showMessage(tr("Cannot compare %1").arg(tensor));
            m_table->setText(error.toHtmlEscaped());
            Q_EMIT failed(error);
        });
}

void ComparePanel::showComparison(std::shared_ptr<const TensorComparison> c)
{
    m_shown = std::move(c);
    const TensorComparison& t = *m_shown;
    const auto label = [](const char* side, const std::string& dtype, const std::string& stored) {
        return stored.empty()
            ? QStringLiteral("%1 (%2)").arg(QLatin1String(side), QString::fromStdString(dtype))
            : QStringLiteral("%1 (stored %2, dequantized)").arg(QLatin1String(side), QString::fromStdString(stored));
    };
    m_plot->setHistograms(QString::fromStdString(t.name), t.histogramA, &t.histogramB, label("A", t.dtypeA, t.storedA),
        label("B", t.dtypeB, t.storedB));
    QString html = QStringLiteral("<table cellspacing='4'><tr><th></th><th>A</th><th>B</th></tr>");
    html += row(tr("min"), t.a.min, t.b.min) + row(tr("max"), t.a.max, t.b.max) + row(tr("mean"), t.a.mean, t.b.mean)
        + row(tr("std"), t.a.std, t.b.std) + row(tr("kurtosis"), t.a.kurtosis, t.b.kurtosis);
    html += QStringLiteral("</table>");
    if (t.sameShape) {
        html += tr("<p><b>B against A</b>: SQNR <b>%1 dB</b> · MSE %2 · cosine %3 · max |difference| %4</p>")
                    .arg(ui::formatNumber(t.difference.sqnrDb, 3), ui::formatNumber(t.difference.mse, 3),
                        ui::formatNumber(t.difference.cosine, 6), ui::formatNumber(t.difference.maxAbsError, 3));
    } else {
        html += tr("<p>The shapes differ (%1 vs %2): only the distributions are compared.</p>")
                    .arg(ui::formatShape(t.shapeA), ui::formatShape(t.shapeB));
    }
    m_table->setText(html);
}

} // namespace qs::app
