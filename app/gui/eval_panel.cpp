// SPDX-License-Identifier: GPL-3.0-or-later
#include "eval_panel.h"

#include "csv_export.h"
#include "divergence_view.h"
#include "format.h"
#include "runtime/memory.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace qs::app {

EvalPanel::EvalPanel(QWidget* parent)
    : QWidget(parent)
    , m_file(new QLineEdit(this))
    , m_browse(new QPushButton(tr("Browse…"), this))
    , m_seqLen(new QSpinBox(this))
    , m_windows(new QSpinBox(this))
    , m_run(new QPushButton(tr("Evaluate"), this))
    , m_capture(new QPushButton(tr("Capture Activations"), this))
    , m_compare(new QPushButton(tr("Compare Recipes"), this))
    , m_csv(new QPushButton(tr("Export CSV…"), this))
    , m_samples(new QSpinBox(this))
    , m_seed(new QSpinBox(this))
    , m_memory(new QLineEdit(this))
    , m_protocol(new QComboBox(this))
    , m_status(new QLabel(this))
    , m_table(new QTableWidget(0, 9, this))
    , m_divergence(new ui::DivergenceView(this))
{
    m_file->setPlaceholderText(tr("token ids (.json), JSON lines with \"text\" (.jsonl), or plain text"));
    m_seqLen->setRange(2, 1 << 20);
    m_seqLen->setValue(256);
    m_seqLen->setToolTip(tr("Window length: windows of N + 1 tokens overlap by one, so every token after the first "
                            "is predicted once"));
    m_windows->setRange(0, 1 << 20);
    m_windows->setSpecialValueText(tr("all"));
    m_windows->setToolTip(tr("Evaluate only the first N windows (a quick estimate on a CPU)"));
    m_samples->setRange(1, 1 << 20);
    m_samples->setValue(16);
    m_samples->setToolTip(tr("Capture Activations: windows of the sequence length (disjoint) to record. Static "
                             "activation ranges, SmoothQuant and GPTQ calibrate on the samples of the scheme "
                             "dock's Calibration section."));
    m_seed->setRange(0, 1 << 30);
    m_seed->setSpecialValueText(tr("in order"));
    m_seed->setToolTip(tr("Capture Activations: shuffle the windows with this seed (in order: the first windows of "
                          "the data)"));
    m_memory->setPlaceholderText(tr("automatic: 80% of the memory available"));
    m_memory->setToolTip(tr("The model runs one layer at a time: the memory the run may use (800M, 1.5G, 12G); "
                            "hidden states beyond it wait in a temporary file"));
    m_protocol->addItem(tr("Automatic (overlap for decoders, masked for encoders)"), QString());
    m_protocol->addItem(tr("Overlapping windows: every token after the first predicted once"), QStringLiteral("overlap"));
    m_protocol->addItem(tr("fms-mo blocks: disjoint windows, fms-mo's formula"), QStringLiteral("blocks"));
    m_protocol->addItem(tr("Masked LM (BERT, RoBERTa): every token masked once, 1 in 7 per pass"),
        QStringLiteral("masked"));
    m_capture->setToolTip(tr("Run the float model on the calibration windows and record every Linear input and the "
                             "twelve named points of each layer (shown in the Activations tab)"));
    m_run->setToolTip(tr("Run the float model and the current scheme's fake-quantized model on the data, after the "
                         "scheme dock's calibration (static activation ranges, SmoothQuant, GPTQ) where it asks "
                         "for one"));
    m_status->setWordWrap(true);
    m_table->setHorizontalHeaderLabels({ tr("Model"), tr("Perplexity"), tr("Change"), tr("KL (nats/token)"),
        tr("Top-1 agreement"), tr("Tokens"), tr("Kept modules"), tr("Time"), tr("Peak memory") });
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);

    auto* fileRow = new QHBoxLayout;
    fileRow->addWidget(m_file, 1);
    fileRow->addWidget(m_browse);
    auto* form = new QFormLayout;
    form->addRow(tr("Data:"), fileRow);
    form->addRow(tr("Sequence length:"), m_seqLen);
    form->addRow(tr("Windows:"), m_windows);
    form->addRow(tr("Scoring:"), m_protocol);
    form->addRow(tr("Capture samples:"), m_samples);
    form->addRow(tr("Capture order:"), m_seed);
    form->addRow(tr("Memory limit:"), m_memory);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_run);
    buttons->addWidget(m_compare);
    buttons->addWidget(m_capture);
    buttons->addWidget(m_status, 1);
    buttons->addWidget(m_csv);
    auto* layout = new QVBoxLayout(this);
    auto* header = new QLabel(tr("<b>Perplexity</b> of the model run natively on the CPU (Llama, GPT-2, nanoGPT, "
                                 "BERT/RoBERTa), float and with the current scheme and keep selection, after the "
                                 "scheme dock's calibration (rotation, SmoothQuant or AWQ, GPTQ, static activation "
                                 "ranges). Compare Recipes runs several calibrations in one go."),
        this);
    header->setWordWrap(true);
    layout->addWidget(header);
    layout->addLayout(form);
    layout->addLayout(buttons);
    auto* results = new QSplitter(Qt::Vertical, this);
    results->addWidget(m_table);
    results->addWidget(m_divergence);
    results->setStretchFactor(0, 1);
    results->setStretchFactor(1, 3);
    layout->addWidget(results, 1);

    connect(m_browse, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Evaluation data"), m_file->text(), tr("Data (*.json *.jsonl *.txt);;All files (*)"));
        if (!path.isEmpty())
            m_file->setText(path);
    });
    connect(m_run, &QPushButton::clicked, this, &EvalPanel::runRequested);
    connect(m_capture, &QPushButton::clicked, this, &EvalPanel::captureRequested);
    connect(m_compare, &QPushButton::clicked, this, &EvalPanel::compareRequested);
    m_compare->setToolTip(tr("Evaluate the current scheme after each calibration recipe (round to nearest, GPTQ, AWQ, "
                             "AWQ + GPTQ, Hadamard rotation + GPTQ) on the same data and calibration samples, one "
                             "row each: which one wins for this model"));
    m_csv->setEnabled(false);
    connect(m_csv, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Save the results as CSV"), QStringLiteral("perplexity.csv"), ui::csvFileFilter());
        QString error;
        if (!path.isEmpty() && !exportCsv(path, &error))
            QMessageBox::warning(this, tr("Cannot save"), error);
    });
}

QString EvalPanel::dataFile() const
{
    return m_file->text().trimmed();
}

void EvalPanel::setDataFile(const QString& path)
{
    m_file->setText(path);
}

int EvalPanel::seqLen() const
{
    return m_seqLen->value();
}

void EvalPanel::setSeqLen(int tokens)
{
    m_seqLen->setValue(tokens);
}

void EvalPanel::setMaxSeqLen(int positions)
{
    m_seqLen->setMaximum(std::max(2, positions));
}

int EvalPanel::maxWindows() const
{
    return m_windows->value();
}

QString EvalPanel::protocol() const
{
    return m_protocol->currentData().toString();
}

void EvalPanel::setProtocol(const QString& name)
{
    const int i = m_protocol->findData(name);
    m_protocol->setCurrentIndex(i < 0 ? 0 : i);
}

int EvalPanel::calibrationSeed() const
{
    return m_seed->value();
}

bool EvalPanel::hasFloatRow(const QString& key) const
{
    return key == m_resultsKey && m_table->rowCount() > 0;
}

void EvalPanel::setResultsKey(const QString& key)
{
    m_resultsKey = key;
}

int EvalPanel::samples() const
{
    return m_samples->value();
}

std::uint64_t EvalPanel::memoryLimit() const
{
    const QString text = m_memory->text().trimmed();
    return text.isEmpty() ? 0 : parseByteSize(text.toStdString(), tr("Memory limit").toStdString());
}

void EvalPanel::setMemoryLimit(const QString& text)
{
    m_memory->setText(text);
}

void EvalPanel::setRunEnabled(bool enabled)
{
    m_compare->setEnabled(enabled);
    m_run->setEnabled(enabled);
    m_capture->setEnabled(enabled);
}

QString EvalPanel::status() const
{
    return m_status->text();
}

void EvalPanel::setStatus(const QString& text)
{
    m_status->setText(text);
}

void EvalPanel::addResult(const Row& row)
{
    const int r = m_table->rowCount();
    m_table->insertRow(r);
    const bool isFloat = row.model == QLatin1String("float");
    const QStringList cells { row.model, ui::formatNumber(row.perplexity, 5),
        isFloat ? QStringLiteral("—") : QStringLiteral("%1%").arg(ui::formatNumber(100 * row.change, 3)),
        isFloat ? QStringLiteral("—") : ui::formatNumber(row.kl, 3),
        isFloat ? QStringLiteral("—") : QStringLiteral("%1%").arg(ui::formatNumber(100 * row.top1, 4)),
        QString::number(row.tokens), isFloat ? QStringLiteral("—") : QString::number(row.kept),
        row.seconds < 0 ? QStringLiteral("—") : QStringLiteral("%1 s").arg(row.seconds, 0, 'f', 1),
        row.peakBytes == 0 ? QStringLiteral("—") : ui::formatBytes(row.peakBytes) };
    for (int c = 0; c < cells.size(); ++c) {
        auto* item = new QTableWidgetItem(cells[c]);
        if (c > 0)
            item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        m_table->setItem(r, c, item);
    }
    m_csv->setEnabled(true);
}

void EvalPanel::clearResults()
{
    m_table->setRowCount(0);
    m_csv->setEnabled(false);
}

bool EvalPanel::exportCsv(const QString& path, QString* error) const
{
    return ui::saveTableAsCsv(m_table->model(), path, error, Qt::DisplayRole);
}

} // namespace qs::app
