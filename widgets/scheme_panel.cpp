// SPDX-License-Identifier: GPL-3.0-or-later
#include "scheme_panel.h"

#include "error.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QSpinBox>
#include <QVBoxLayout>

namespace qs::ui {
namespace {

template <typename Enum, typename NameOf>
void fillCombo(QComboBox* box, std::initializer_list<Enum> values, NameOf nameOf)
{
    for (Enum v : values)
        box->addItem(QString::fromUtf8(std::string(nameOf(v)).c_str()), static_cast<int>(v));
}

template <typename Enum> Enum comboValue(const QComboBox* box)
{
    return static_cast<Enum>(box->currentData().toInt());
}

template <typename Enum> void setComboValue(QComboBox* box, Enum v)
{
    box->setCurrentIndex(box->findData(static_cast<int>(v)));
}

} // namespace

SchemePanel::SchemePanel(QWidget* parent)
    : QWidget(parent)
    , m_preset(new QComboBox(this))
    , m_description(new QLabel(this))
    , m_format(new QComboBox(this))
    , m_bits(new QSpinBox(this))
    , m_symmetric(new QCheckBox(tr("symmetric (no zero point)"), this))
    , m_granularity(new QComboBox(this))
    , m_axis(new QSpinBox(this))
    , m_groupSize(new QSpinBox(this))
    , m_rounding(new QComboBox(this))
    , m_seed(new QSpinBox(this))
    , m_clipping(new QComboBox(this))
    , m_percentile(new QDoubleSpinBox(this))
    , m_fp8Max(new QDoubleSpinBox(this))
    , m_convention(new QComboBox(this))
    , m_recompute(new QCheckBox(tr("recompute narrow weights"), this))
    , m_narrowThreshold(new QDoubleSpinBox(this))
    , m_activations(new QComboBox(this))
    , m_quirks(new QCheckBox(tr("nanoGPT quirks"), this))
    , m_weightDtypeMath(new QCheckBox(tr("weight-dtype math"), this))
    , m_status(new QLabel(this))
{
    for (const auto& p : schemePresets())
        m_preset->addItem(QString::fromStdString(p.name));
    m_preset->setToolTip(tr("Presets of AWS Neuron NxD, vLLM compressed-tensors, IBM AIU (fms-mo) and the nanoGPT "
                            "quantization fork"));
    m_description->setWordWrap(true);
    fillCombo(
        m_format, { QuantFormat::Int, QuantFormat::Fp8E4M3, QuantFormat::Fp8E5M2, QuantFormat::Ternary }, formatName);
    m_bits->setRange(2, 8);
    fillCombo(m_granularity, { Granularity::Tensor, Granularity::Channel, Granularity::Group }, granularityName);
    m_axis->setRange(0, 7);
    m_groupSize->setRange(0, 1 << 20);
    m_groupSize->setSpecialValueText(tr("—"));
    fillCombo(m_rounding, { Rounding::NearestEven, Rounding::Stochastic }, roundingName);
    m_seed->setRange(0, INT32_MAX);
    fillCombo(
        m_clipping, { Clipping::AbsMax, Clipping::Percentile, Clipping::MseSearch, Clipping::Sawb }, clippingName);
    m_percentile->setRange(0.01, 100.0);
    m_percentile->setDecimals(3);
    m_fp8Max->setRange(1.0, 57344.0);
    m_fp8Max->setDecimals(1);
    fillCombo(m_convention,
        { ScaleConvention::Nxd, ScaleConvention::CompressedTensors, ScaleConvention::FmsMo, ScaleConvention::NanoGpt },
        conventionName);
    m_narrowThreshold->setRange(0.1, 127.0);
    for (const std::string& a : activationModes())
        m_activations->addItem(QString::fromStdString(a));
    m_status->setWordWrap(true);
    m_recompute->setToolTip(tr("fms-mo: rows whose int codes have a std below the threshold get the SAWB clip "
                               "31.76·rms − 35.04·mean|w|"));
    m_quirks->setToolTip(tr("Reproduce the nanoGPT fork exactly: no epsilon (all-zero tensors fail) and stochastic "
                            "int8 wrap-around"));
    m_weightDtypeMath->setToolTip(tr("compressed-tensors: compute the scale and x / scale in the weight's bf16/fp16 "
                                     "dtype, as llm-compressor does, so codes match its output bit for bit. Off: "
                                     "float32 math (slightly more accurate)."));

    auto* form = new QFormLayout;
    form->addRow(tr("Preset"), m_preset);
    form->addRow(QString(), m_description);
    form->addRow(tr("Format"), m_format);
    form->addRow(tr("Bits"), m_bits);
    form->addRow(QString(), m_symmetric);
    form->addRow(tr("Granularity"), m_granularity);
    form->addRow(tr("Channel axis"), m_axis);
    form->addRow(tr("Group size"), m_groupSize);
    form->addRow(tr("Rounding"), m_rounding);
    form->addRow(tr("Seed"), m_seed);
    form->addRow(tr("Clipping"), m_clipping);
    form->addRow(tr("Percentile"), m_percentile);
    form->addRow(tr("fp8 max"), m_fp8Max);
    form->addRow(tr("Convention"), m_convention);
    form->addRow(QString(), m_recompute);
    form->addRow(tr("Narrow std <"), m_narrowThreshold);
    form->addRow(tr("Activations"), m_activations);
    form->addRow(QString(), m_quirks);
    form->addRow(QString(), m_weightDtypeMath);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_status);
    layout->addStretch(1);

    connect(m_preset, &QComboBox::currentTextChanged, this, [this](const QString& name) {
        if (!m_updating)
            selectPreset(name);
    });
    auto edited = [this] {
        if (!m_updating)
            readFields();
    };
    for (QComboBox* c : { m_format, m_granularity, m_rounding, m_clipping, m_convention, m_activations })
        connect(c, &QComboBox::currentIndexChanged, this, edited);
    for (QSpinBox* s : { m_bits, m_axis, m_groupSize, m_seed })
        connect(s, &QSpinBox::valueChanged, this, edited);
    for (QDoubleSpinBox* s : { m_percentile, m_fp8Max, m_narrowThreshold })
        connect(s, &QDoubleSpinBox::valueChanged, this, edited);
    for (QCheckBox* c : { m_symmetric, m_recompute, m_quirks, m_weightDtypeMath })
        connect(c, &QCheckBox::toggled, this, edited);

    selectPreset(QStringLiteral("nxd-int8"));
}

bool SchemePanel::selectPreset(const QString& name)
{
    const auto preset = findSchemePreset(name.toStdString());
    if (!preset)
        return false;
    setScheme(*preset);
    return true;
}

void SchemePanel::setScheme(const QuantScheme& scheme)
{
    m_scheme = scheme;
    m_presetName = QString::fromStdString(scheme.name);
    m_problem.clear();
    showScheme(scheme);
    Q_EMIT schemeChanged(m_scheme);
}

void SchemePanel::showScheme(const QuantScheme& s)
{
    m_updating = true;
    const int preset = m_preset->findText(QString::fromStdString(s.name));
    if (preset >= 0)
        m_preset->setCurrentIndex(preset);
    m_description->setText(QString::fromStdString(s.description));
    setComboValue(m_format, s.format);
    m_bits->setValue(s.bits);
    m_symmetric->setChecked(s.symmetric);
    setComboValue(m_granularity, s.granularity);
    m_axis->setValue(s.axis);
    m_groupSize->setValue(s.groupSize);
    setComboValue(m_rounding, s.rounding);
    m_seed->setValue(static_cast<int>(s.seed));
    setComboValue(m_clipping, s.clipping);
    m_percentile->setValue(s.percentile);
    m_fp8Max->setValue(s.fp8Max);
    setComboValue(m_convention, s.convention);
    m_recompute->setChecked(s.recomputeNarrowWeights);
    m_narrowThreshold->setValue(s.narrowStdThreshold);
    m_activations->setCurrentText(QString::fromStdString(s.activations));
    m_quirks->setChecked(s.nanogptQuirks);
    m_weightDtypeMath->setChecked(s.weightDtypeMath);
    m_status->setText(m_problem.isEmpty()
            ? QString()
            : QStringLiteral("<span style='color:#b00020'>%1</span>").arg(m_problem.toHtmlEscaped()));
    m_updating = false;
    updateEnabled();
}

void SchemePanel::readFields()
{
    QuantScheme s = m_scheme;
    const auto base = findSchemePreset(m_presetName.toStdString());
    s.name = (base ? base->name : std::string("custom")) + " (modified)";
    s.format = comboValue<QuantFormat>(m_format);
    s.bits = m_bits->value();
    s.symmetric = m_symmetric->isChecked();
    s.granularity = comboValue<Granularity>(m_granularity);
    s.axis = m_axis->value();
    s.groupSize = s.granularity == Granularity::Group ? m_groupSize->value() : 0;
    s.rounding = comboValue<Rounding>(m_rounding);
    s.seed = static_cast<std::uint64_t>(m_seed->value());
    s.clipping = comboValue<Clipping>(m_clipping);
    s.percentile = m_percentile->value();
    s.fp8Max = m_fp8Max->value();
    s.convention = comboValue<ScaleConvention>(m_convention);
    s.recomputeNarrowWeights = m_recompute->isChecked();
    s.narrowStdThreshold = m_narrowThreshold->value();
    s.activations = m_activations->currentText().toStdString();
    // Options of one convention are dropped (not refused) when another convention is chosen.
    s.nanogptQuirks = m_quirks->isChecked() && s.convention == ScaleConvention::NanoGpt;
    s.weightDtypeMath = m_weightDtypeMath->isChecked() && s.convention == ScaleConvention::CompressedTensors;
    try {
        s.validate();
        m_problem.clear();
        m_status->clear();
        m_scheme = s;
        updateEnabled();
        Q_EMIT schemeChanged(m_scheme);
    } catch (const Error& e) {
        m_problem = QString::fromStdString(e.what());
        m_status->setText(QStringLiteral("<span style='color:#b00020'>%1</span>").arg(m_problem.toHtmlEscaped()));
    }
}

void SchemePanel::updateEnabled()
{
    const auto format = comboValue<QuantFormat>(m_format);
    const auto granularity = comboValue<Granularity>(m_granularity);
    m_bits->setEnabled(format == QuantFormat::Int);
    m_symmetric->setEnabled(format == QuantFormat::Int);
    m_axis->setEnabled(granularity == Granularity::Channel);
    m_groupSize->setEnabled(granularity == Granularity::Group);
    m_seed->setEnabled(comboValue<Rounding>(m_rounding) == Rounding::Stochastic);
    m_percentile->setEnabled(comboValue<Clipping>(m_clipping) == Clipping::Percentile);
    m_fp8Max->setEnabled(format == QuantFormat::Fp8E4M3 || format == QuantFormat::Fp8E5M2);
    m_narrowThreshold->setEnabled(m_recompute->isChecked());
    m_quirks->setEnabled(comboValue<ScaleConvention>(m_convention) == ScaleConvention::NanoGpt);
    m_weightDtypeMath->setEnabled(comboValue<ScaleConvention>(m_convention) == ScaleConvention::CompressedTensors);
}

} // namespace qs::ui
