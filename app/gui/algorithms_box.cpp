// SPDX-License-Identifier: GPL-3.0-or-later
#include "algorithms_box.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QToolButton>

#include <algorithm>

namespace qs::app {

AlgorithmsBox::AlgorithmsBox(QWidget* parent)
    : QGroupBox(tr("Calibration"), parent)
    , m_rotation(new QComboBox(this))
    , m_rotationSeed(new QSpinBox(this))
    , m_online(new QCheckBox(tr("Online Hadamard on down_proj"), this))
    , m_spinQuant(new QCheckBox(tr("Learn it (SpinQuant)"), this))
    , m_spinSteps(new QSpinBox(this))
    , m_spinLr(new QDoubleSpinBox(this))
    , m_smooth(new QCheckBox(tr("SmoothQuant"), this))
    , m_alpha(new QDoubleSpinBox(this))
    , m_awq(new QCheckBox(tr("AWQ"), this))
    , m_duo(new QComboBox(this))
    , m_awqClip(new QCheckBox(tr("Clip search (llm-awq)"), this))
    , m_gptq(new QCheckBox(tr("GPTQ"), this))
    , m_order(new QComboBox(this))
    , m_dampening(new QDoubleSpinBox(this))
    , m_blockSize(new QSpinBox(this))
    , m_floatInputs(new QCheckBox(tr("Layers calibrate on float inputs"), this))
    , m_data(new QLineEdit(this))
    , m_samples(new QSpinBox(this))
    , m_seqLen(new QSpinBox(this))
{
    setUpRotation();
    m_smooth->setToolTip(tr("llm-compressor's SmoothQuantModifier: per input channel of q/k/v and gate/up, "
                            "s = range^α / (2·max|W|)^(1-α), folded into the norm before them; moves activation "
                            "outliers into the weights before int8 activations"));
    m_alpha->setRange(0, 1);
    m_alpha->setSingleStep(0.05);
    m_alpha->setDecimals(2);
    m_alpha->setValue(0.8);
    m_alpha->setPrefix(tr("α "));
    m_alpha->setToolTip(tr("Smoothing strength: 0.8 in llm-compressor's W8A8 example, 0.65 fms-mo's default, 0.5 "
                           "the paper's"));
    m_awq->setToolTip(tr("llm-compressor's AWQ: per mapping (q/k/v, o, gate/up, down) the input channels scaled "
                         "by the grid point (20) with the lowest output error of the parent module, folded into "
                         "the norm or Linear before; for weight-only schemes (W4A16), then rounding or GPTQ"));
    m_duo->addItem(tr("duo scaling"), QStringLiteral("true"));
    m_duo->addItem(tr("activations only"), QStringLiteral("false"));
    m_duo->addItem(tr("both (half each)"), QStringLiteral("both"));
    m_duo->setToolTip(tr("duo_scaling: the scales from the activation and the weight means (llm-compressor's "
                         "default), from the activations only (the AWQ paper), or half the grid each way"));
    m_awqClip->setToolTip(tr("llm-awq's clip search after the scales: per output channel and group, max|w| shrunk "
                             "up to 50% in 20 steps, the clip with the lowest output error wins (not q/k; round to "
                             "nearest only: GPTQ chooses its own codes)"));
    m_gptq->setToolTip(tr("llm-compressor's GPTQModifier: each Linear's codes chosen on its calibration inputs, "
                          "the rounding error of each column spread over the columns not yet quantized"));
    m_order->addItem(tr("static order"), QStringLiteral("static"));
    m_order->addItem(tr("group order (g_idx)"), QStringLiteral("group"));
    m_order->addItem(tr("no reordering"), QStringLiteral("none"));
    m_order->setToolTip(tr("Activation order: static quantizes the columns by descending Hessian diagonal, each "
                           "keeping its group (llm-compressor's default); group reorders the groups too, and the "
                           "checkpoint needs g_idx (compressed-tensors only)"));
    m_dampening->setRange(0, 0.99);
    m_dampening->setDecimals(3);
    m_dampening->setSingleStep(0.005);
    m_dampening->setValue(0.01);
    m_dampening->setToolTip(tr("dampening_frac: this fraction of the Hessian's mean diagonal is added to it"));
    m_blockSize->setRange(1, 1 << 16);
    m_blockSize->setValue(128);
    m_blockSize->setToolTip(tr("Columns quantized together before the rest of the weight is updated"));
    m_floatInputs->setToolTip(tr("Off (llm-compressor's default, propagate_error): each layer calibrates on the "
                                 "outputs of the layers already calibrated. On: on the float model's outputs."));
    m_data->setPlaceholderText(tr("Evaluate's own data"));
    m_data->setToolTip(tr("Calibration data: token ids (.json), JSON lines with \"text\" (.jsonl) or plain text. "
                          "Export needs it to calibrate; Evaluate takes the first windows of its own data when "
                          "this is empty."));
    auto* browse = new QToolButton(this);
    browse->setText(tr("…"));
    browse->setToolTip(tr("Choose the calibration data file"));
    m_samples->setRange(1, 1 << 20);
    m_samples->setValue(64);
    m_samples->setToolTip(tr("Calibration samples, taken in order from the start of the data"));
    m_seqLen->setRange(1, 1 << 20);
    m_seqLen->setValue(512);
    m_seqLen->setToolTip(tr("Tokens per calibration sample (llm-compressor's examples: 512 samples of 2048)"));

    layOut(browse);

    connect(browse, &QToolButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Calibration data"), m_data->text(), tr("Data (*.json *.jsonl *.txt);;All files (*)"));
        if (!path.isEmpty())
            m_data->setText(path);
    });
    connect(m_data, &QLineEdit::textChanged, this, &AlgorithmsBox::changed);
    connect(m_samples, &QSpinBox::valueChanged, this, &AlgorithmsBox::changed);
    connect(m_seqLen, &QSpinBox::valueChanged, this, &AlgorithmsBox::changed);
    // SmoothQuant and AWQ both rescale the same layers: one or the other.
    connect(m_smooth, &QCheckBox::toggled, this, [this](bool on) {
        if (on)
            m_awq->setChecked(false);
    });
    connect(m_awq, &QCheckBox::toggled, this, [this](bool on) {
        if (on)
            m_smooth->setChecked(false);
    });
    connect(m_duo, &QComboBox::currentIndexChanged, this, &AlgorithmsBox::changed);
    for (QCheckBox* c : { m_smooth, m_awq, m_awqClip, m_gptq, m_floatInputs })
        connect(c, &QCheckBox::toggled, this, [this] {
            updateEnabled();
            Q_EMIT changed();
        });
    connect(m_alpha, &QDoubleSpinBox::valueChanged, this, &AlgorithmsBox::changed);
    connect(m_dampening, &QDoubleSpinBox::valueChanged, this, &AlgorithmsBox::changed);
    connect(m_blockSize, &QSpinBox::valueChanged, this, &AlgorithmsBox::changed);
    connect(m_order, &QComboBox::currentIndexChanged, this, &AlgorithmsBox::changed);
    updateEnabled();
}

void AlgorithmsBox::setUpRotation()
{
    m_rotation->addItem(tr("none"), QString());
    m_rotation->addItem(tr("Hadamard"), QStringLiteral("hadamard"));
    m_rotation->addItem(tr("random orthogonal"), QStringLiteral("random"));
    m_rotation->setToolTip(tr("QuaRot's offline rotations fused into the weights first (Llama family): the norms "
                              "folded into the Linear modules, R1 on the residual stream, R2 per attention head. "
                              "The float model does not change; outliers spread over every channel. No data needed."));
    m_rotationSeed->setRange(0, 1 << 30);
    m_rotationSeed->setToolTip(tr("The seed of the random signs (Hadamard) or of the random orthogonal matrix"));
    connect(m_rotation, &QComboBox::currentIndexChanged, this, [this] {
        updateEnabled();
        Q_EMIT changed();
    });
    connect(m_rotationSeed, &QSpinBox::valueChanged, this, &AlgorithmsBox::changed);
    m_online->setToolTip(tr("QuaRot's online rotation (R4): the down projection's input rotated at run time, its "
                            "weight by the same Hadamard; for low-bit activations. Evaluate only: no export format "
                            "carries it."));
    connect(m_online, &QCheckBox::toggled, this, &AlgorithmsBox::changed);
    m_spinQuant->setToolTip(tr("SpinQuant: R1 and R2 learned from this rotation on the calibration samples by "
                               "Cayley SGD, the loss the quantized model's next-token loss (weights float when "
                               "GPTQ follows); layer by layer in bounded memory, each step about four forward "
                               "passes over its samples"));
    m_spinSteps->setRange(1, 100000);
    m_spinSteps->setValue(100);
    m_spinSteps->setSuffix(tr(" steps"));
    m_spinSteps->setToolTip(tr("Optimizer steps (100: the nanoGPT fork's and SpinQuant's); a step takes "
                               "ceil(samples / steps) samples"));
    m_spinLr->setRange(0.01, 10);
    m_spinLr->setDecimals(2);
    m_spinLr->setSingleStep(0.1);
    m_spinLr->setValue(1.5);
    m_spinLr->setToolTip(tr("Learning rate of the Cayley step (1.5: the fork's and SpinQuant's; lower it for narrow "
                            "models). The start rotation is kept when learning ends above it."));
    connect(m_spinQuant, &QCheckBox::toggled, this, [this] {
        updateEnabled();
        Q_EMIT changed();
    });
    connect(m_spinSteps, &QSpinBox::valueChanged, this, &AlgorithmsBox::changed);
    connect(m_spinLr, &QDoubleSpinBox::valueChanged, this, &AlgorithmsBox::changed);
}

void AlgorithmsBox::layOut(QWidget* browse)
{
    auto* dataRow = new QHBoxLayout;
    dataRow->addWidget(m_data, 1);
    dataRow->addWidget(browse);
    auto* grid = new QGridLayout(this);
    int row = 0;
    grid->addWidget(new QLabel(tr("Rotation:"), this), row, 0);
    grid->addWidget(m_rotation, row++, 1);
    auto* seed = new QLabel(tr("Seed:"), this);
    seed->setIndent(20);
    grid->addWidget(seed, row, 0);
    grid->addWidget(m_rotationSeed, row++, 1);
    grid->addWidget(m_online, row++, 0, 1, 2);
    auto* learning = new QHBoxLayout;
    learning->addWidget(m_spinSteps);
    learning->addWidget(m_spinLr);
    grid->addWidget(m_spinQuant, row++, 0, 1, 2);
    auto* learningLabel = new QLabel(tr("Steps, rate:"), this);
    learningLabel->setIndent(20);
    grid->addWidget(learningLabel, row, 0);
    grid->addLayout(learning, row++, 1);
    grid->addWidget(m_smooth, row, 0);
    grid->addWidget(m_alpha, row++, 1);
    grid->addWidget(m_awq, row, 0);
    grid->addWidget(m_duo, row++, 1);
    m_awqClip->setStyleSheet(QStringLiteral("margin-left: 20px"));
    grid->addWidget(m_awqClip, row++, 0, 1, 2);
    grid->addWidget(m_gptq, row, 0);
    grid->addWidget(m_order, row++, 1);
    auto* dampening = new QLabel(tr("Dampening:"), this);
    auto* blockSize = new QLabel(tr("Block size:"), this);
    dampening->setIndent(20);
    blockSize->setIndent(20);
    grid->addWidget(dampening, row, 0);
    grid->addWidget(m_dampening, row++, 1);
    grid->addWidget(blockSize, row, 0);
    grid->addWidget(m_blockSize, row++, 1);
    grid->addWidget(m_floatInputs, row++, 0, 1, 2);
    grid->addWidget(new QLabel(tr("Data:"), this), row, 0);
    grid->addLayout(dataRow, row++, 1);
    grid->addWidget(new QLabel(tr("Samples:"), this), row, 0);
    grid->addWidget(m_samples, row++, 1);
    grid->addWidget(new QLabel(tr("Tokens each:"), this), row, 0);
    grid->addWidget(m_seqLen, row++, 1);
    grid->setColumnStretch(1, 1);
}

void AlgorithmsBox::updateEnabled()
{
    m_alpha->setEnabled(m_smooth->isChecked());
    m_rotationSeed->setEnabled(!m_rotation->currentData().toString().isEmpty());
    m_online->setEnabled(!m_rotation->currentData().toString().isEmpty());
    m_spinQuant->setEnabled(!m_rotation->currentData().toString().isEmpty());
    m_spinSteps->setEnabled(m_spinQuant->isEnabled() && m_spinQuant->isChecked());
    m_spinLr->setEnabled(m_spinSteps->isEnabled());
    m_duo->setEnabled(m_awq->isChecked());
    m_awqClip->setEnabled(m_awq->isChecked() && !m_gptq->isChecked());
    for (QWidget* w : std::initializer_list<QWidget*> { m_order, m_dampening, m_blockSize })
        w->setEnabled(m_gptq->isChecked());
    m_floatInputs->setEnabled(m_smooth->isChecked() || m_awq->isChecked() || m_gptq->isChecked());
}

AlgorithmSettings AlgorithmsBox::settings() const
{
    AlgorithmSettings a;
    if (m_smooth->isChecked())
        a.smoothQuant = m_alpha->value();
    a.rotation = m_rotation->currentData().toString().toStdString();
    a.rotationSeed = static_cast<std::uint64_t>(m_rotationSeed->value());
    a.rotationOnline = m_online->isEnabled() && m_online->isChecked();
    a.spinQuant = m_spinQuant->isEnabled() && m_spinQuant->isChecked();
    a.spinQuantSteps = m_spinSteps->value();
    a.spinQuantLr = m_spinLr->value();
    a.awq = m_awq->isChecked();
    a.awqDuoScaling = m_duo->currentData().toString().toStdString();
    a.awqClip = m_awqClip->isEnabled() && m_awqClip->isChecked();
    a.gptq = m_gptq->isChecked();
    a.gptqActOrder = m_order->currentData().toString().toStdString();
    a.gptqDampening = m_dampening->value();
    a.gptqBlockSize = m_blockSize->value();
    a.propagateError = !m_floatInputs->isChecked();
    return a;
}

void AlgorithmsBox::setSettings(const AlgorithmSettings& a)
{
    m_smooth->setChecked(a.smoothQuant.has_value());
    if (a.smoothQuant)
        m_alpha->setValue(*a.smoothQuant);
    const int rotation = m_rotation->findData(QString::fromStdString(a.rotation));
    m_rotation->setCurrentIndex(rotation >= 0 ? rotation : 0);
    m_rotationSeed->setValue(static_cast<int>(a.rotationSeed));
    m_online->setChecked(a.rotationOnline);
    m_spinQuant->setChecked(a.spinQuant);
    m_spinSteps->setValue(a.spinQuantSteps);
    m_spinLr->setValue(a.spinQuantLr);
    m_awq->setChecked(a.awq);
    const int duo = m_duo->findData(QString::fromStdString(a.awqDuoScaling));
    if (duo >= 0)
        m_duo->setCurrentIndex(duo);
    m_gptq->setChecked(a.gptq);
    m_awqClip->setChecked(a.awqClip);
    const int order = m_order->findData(QString::fromStdString(a.gptqActOrder));
    if (order >= 0)
        m_order->setCurrentIndex(order);
    m_dampening->setValue(a.gptqDampening);
    m_blockSize->setValue(a.gptqBlockSize);
    m_floatInputs->setChecked(!a.propagateError);
    updateEnabled();
}

QString AlgorithmsBox::summary() const
{
    QStringList parts;
    if (!m_rotation->currentData().toString().isEmpty())
        parts << tr("%1 rotation%2")
                     .arg(m_rotation->currentData().toString() == QStringLiteral("hadamard") ? tr("Hadamard")
                                                                                             : tr("random"))
                     .arg(m_online->isChecked() ? tr(" + online R4") : QString());
    if (m_spinQuant->isEnabled() && m_spinQuant->isChecked())
        parts << tr("SpinQuant %1 steps").arg(m_spinSteps->value());
    if (m_smooth->isChecked())
        parts << tr("SmoothQuant %1").arg(m_alpha->value(), 0, 'g', 3);
    if (m_awq->isChecked())
        parts << (m_awqClip->isEnabled() && m_awqClip->isChecked() ? tr("AWQ with clip search") : tr("AWQ"));
    if (m_gptq->isChecked())
        parts << tr("GPTQ");
    return parts.join(QStringLiteral(" + "));
}

QString AlgorithmsBox::calibrationData() const
{
    return m_data->text().trimmed();
}

void AlgorithmsBox::setCalibrationData(const QString& path)
{
    m_data->setText(path);
}

int AlgorithmsBox::samples() const
{
    return m_samples->value();
}

void AlgorithmsBox::setSamples(int samples)
{
    m_samples->setValue(samples);
}

int AlgorithmsBox::seqLen() const
{
    return m_seqLen->value();
}

void AlgorithmsBox::setSeqLen(int tokens)
{
    m_seqLen->setValue(tokens);
}

void AlgorithmsBox::setMaxSeqLen(int positions)
{
    m_seqLen->setMaximum(std::max(1, positions));
}

CalibrationChoice AlgorithmsBox::choice() const
{
    CalibrationChoice c;
    c.algorithms = settings();
    c.summary = summary();
    c.data = calibrationData();
    c.samples = samples();
    c.seqLen = seqLen();
    return c;
}

} // namespace qs::app
