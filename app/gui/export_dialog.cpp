// SPDX-License-Identifier: GPL-3.0-or-later
#include "export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace qs::app {

ExportDialog::ExportDialog(const QString& suggestedDestination, int quantizedCount, int keptCount,
    const QStringList& nxdKeepList, const QStringList& fullKeepList, std::function<QString(const QString&)> problemFor,
    QWidget* parent)
    : QDialog(parent)
    , m_nxdKeepList(nxdKeepList)
    , m_fullKeepList(fullKeepList)
    , m_problemFor(std::move(problemFor))
    , m_format(new QComboBox(this))
    , m_keepLabel(new QLabel(this))
    , m_keepList(new QPlainTextEdit(this))
    , m_destination(new QLineEdit(suggestedDestination, this))
    , m_overwrite(new QCheckBox(tr("Replace the folder if it exists"), this))
    , m_algorithms(new QLabel(this))
    , m_data(new QLineEdit(this))
    , m_samples(new QSpinBox(this))
    , m_seqLen(new QSpinBox(this))
    , m_problem(new QLabel(this))
    , m_buttons(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this))
{
    setWindowTitle(tr("Export Checkpoint"));
    m_format->addItem(
        tr("AWS Neuron NxD (.weight int8/fp8 + .scale float32, modules_to_not_convert.json)"), QStringLiteral("nxd"));
    m_format->addItem(
        tr("vLLM compressed-tensors (quantization_config in config.json)"), QStringLiteral("compressed-tensors"));

    auto* browse = new QPushButton(tr("Browse…"), this);
    auto* destinationRow = new QHBoxLayout;
    destinationRow->addWidget(m_destination, 1);
    destinationRow->addWidget(browse);

    auto modules = [](int n) { return n == 1 ? tr("1 Linear module") : tr("%1 Linear modules").arg(n); };
    auto* summary = new QLabel(tr("%1 will be quantized with the scheme panel's scheme; %2 kept in full precision.")
                                   .arg(modules(quantizedCount))
                                   .arg(keptCount),
        this);
    summary->setWordWrap(true);
    m_keepList->setReadOnly(true);
    m_keepList->setPlaceholderText(tr("(empty: every Linear module is quantized)"));
    m_keepList->setMaximumHeight(120);

    m_problem->setStyleSheet(QStringLiteral("color: #b00020"));
    m_problem->setWordWrap(true);

    m_algorithms->setWordWrap(true);
    m_algorithms->setToolTip(tr("SmoothQuant and GPTQ are chosen in the scheme dock's Calibration section"));
    m_data->setPlaceholderText(tr("calibration data: token ids (.json), JSON lines with \"text\", or text"));
    auto* dataBrowse = new QPushButton(tr("Browse…"), this);
    auto* dataRow = new QHBoxLayout;
    dataRow->addWidget(m_data, 1);
    dataRow->addWidget(dataBrowse);
    m_samples->setRange(1, 1 << 20);
    m_samples->setValue(64);
    m_samples->setSuffix(tr(" samples"));
    m_seqLen->setRange(1, 1 << 20);
    m_seqLen->setValue(512);
    m_seqLen->setSuffix(tr(" tokens each"));
    auto* sampleRow = new QHBoxLayout;
    sampleRow->addWidget(m_samples);
    sampleRow->addWidget(m_seqLen);
    sampleRow->addStretch(1);

    auto* form = new QFormLayout;
    form->addRow(tr("Format:"), m_format);
    form->addRow(tr("Destination folder:"), destinationRow);
    form->addRow(QString(), m_overwrite);
    form->addRow(tr("Summary:"), summary);
    form->addRow(m_keepLabel, m_keepList);
    form->addRow(tr("Algorithms:"), m_algorithms);
    form->addRow(tr("Calibration data:"), dataRow);
    form->addRow(tr("Calibration:"), sampleRow);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_problem);
    layout->addWidget(m_buttons);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("Export"));

    connect(browse, &QPushButton::clicked, this, &ExportDialog::browse);
    connect(m_destination, &QLineEdit::textChanged, this, &ExportDialog::validate);
    connect(m_overwrite, &QCheckBox::toggled, this, &ExportDialog::validate);
    connect(m_data, &QLineEdit::textChanged, this, &ExportDialog::validate);
    connect(dataBrowse, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Calibration data"), m_data->text(), tr("Data (*.json *.jsonl *.txt);;All files (*)"));
        if (!path.isEmpty())
            m_data->setText(path);
    });
    connect(m_format, &QComboBox::currentIndexChanged, this, [this] {
        showKeepList();
        validate();
    });
    showKeepList();
    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    resize(640, sizeHint().height());
    validate();
}

QString ExportDialog::destination() const
{
    return m_destination->text().trimmed();
}

QString ExportDialog::format() const
{
    return m_format->currentData().toString();
}

void ExportDialog::setFormat(const QString& format)
{
    const int i = m_format->findData(format);
    if (i >= 0)
        m_format->setCurrentIndex(i);
}

void ExportDialog::showKeepList()
{
    const bool nxd = format() == QStringLiteral("nxd");
    m_keepLabel->setText(nxd                    ? tr("modules_to_not_convert:")
            : format() == QStringLiteral("aiu") ? tr("qskip_layer_name:")
                                                : tr("ignore:"));
    m_keepList->setPlainText((nxd ? m_nxdKeepList : m_fullKeepList).join(QLatin1Char('\n')));
}

bool ExportDialog::overwrite() const
{
    return m_overwrite->isChecked();
}

void ExportDialog::setCalibration(const CalibrationChoice& choice)
{
    m_calibration = choice;
    m_algorithms->setText(choice.summary.isEmpty()
            ? tr("none: round to nearest (the scheme dock's Calibration section adds SmoothQuant and GPTQ)")
            : tr("%1, from the scheme dock's Calibration section").arg(choice.summary));
    m_data->setText(choice.data);
    m_samples->setValue(choice.samples);
    m_seqLen->setValue(choice.seqLen);
    validate();
}

AlgorithmSettings ExportDialog::algorithms() const
{
    return m_calibration.algorithms;
}

QString ExportDialog::calibrationData() const
{
    return m_data->text().trimmed();
}

int ExportDialog::calibrationSamples() const
{
    return m_samples->value();
}

int ExportDialog::calibrationSeqLen() const
{
    return m_seqLen->value();
}

void ExportDialog::setCalibrationData(const QString& path)
{
    m_data->setText(path);
}

void ExportDialog::setNeedsCalibration(bool needed)
{
    m_needsCalibration = needed;
    validate();
}

bool ExportDialog::calibrating() const
{
    return m_needsCalibration || m_calibration.algorithms.needsData();
}

void ExportDialog::browse()
{
    const QString parent = QFileDialog::getExistingDirectory(
        this, tr("Folder to create the export in"), QFileInfo(destination()).absolutePath());
    if (!parent.isEmpty())
        m_destination->setText(QDir(parent).filePath(QFileInfo(destination()).fileName()));
}

void ExportDialog::validate()
{
    QString problem;
    if (destination().isEmpty())
        problem = tr("Choose a destination folder.");
    else if (QFileInfo::exists(destination()) && !overwrite())
        problem = tr("%1 already exists. Choose another name or allow replacing it.").arg(destination());
    else if (calibrating() && calibrationData().isEmpty())
        problem = m_calibration.algorithms.needsData()
            ? tr("SpinQuant, SmoothQuant, AWQ and GPTQ calibrate on data: choose a calibration data file.")
            : tr("The scheme's static activation scales are measured on data: choose a calibration data file.");
    else if (m_calibration.algorithms.smoothQuant && m_calibration.algorithms.gptq && format() == QStringLiteral("aiu"))
        problem = tr("For IBM AIU, SmoothQuant is fms-mo's (smoothq_scale in the checkpoint), which rounds W·s: "
                     "turn GPTQ off in the scheme dock's Calibration section.");
    else if (m_calibration.algorithms.rotationOnline)
        problem = tr("The online Hadamard on the down projection's input is applied at inference, and no format "
                     "carries it: turn it off in the scheme dock's Calibration section (Evaluate simulates it).");
    else if (m_calibration.algorithms.gptq && m_calibration.algorithms.gptqActOrder == "group"
        && format() != QStringLiteral("compressed-tensors"))
        problem = tr("GPTQ's group activation order needs g_idx, which only compressed-tensors writes: choose the "
                     "static order in the scheme dock's Calibration section.");
    else if (m_problemFor)
        problem = m_problemFor(format());
    const bool calibrate = calibrating();
    m_data->setEnabled(calibrate);
    m_samples->setEnabled(calibrate);
    m_seqLen->setEnabled(calibrate);
    m_problem->setText(problem);
    m_problem->setVisible(!problem.isEmpty());
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(problem.isEmpty());
}

} // namespace qs::app
