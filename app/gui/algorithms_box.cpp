// SPDX-License-Identifier: GPL-3.0-or-later
#include "algorithms_box.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QLabel>
#include <QSpinBox>
#include <QStandardItemModel>

namespace qs::app {

AlgorithmsBox::AlgorithmsBox(QWidget* parent)
    : QGroupBox(tr("Calibration algorithms"), parent)
    , m_smooth(new QCheckBox(tr("SmoothQuant"), this))
    , m_alpha(new QDoubleSpinBox(this))
    , m_gptq(new QCheckBox(tr("GPTQ"), this))
    , m_order(new QComboBox(this))
    , m_dampening(new QDoubleSpinBox(this))
    , m_blockSize(new QSpinBox(this))
    , m_floatInputs(new QCheckBox(tr("Calibrate each layer on the float model's outputs"), this))
{
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
    m_gptq->setToolTip(tr("llm-compressor's GPTQModifier: each Linear's codes chosen on its calibration inputs, "
                          "the rounding error of each column spread over the columns not yet quantized"));
    m_order->addItem(tr("static order (by Hessian diagonal)"), QStringLiteral("static"));
    m_order->addItem(tr("group order (needs g_idx)"), QStringLiteral("group"));
    m_order->addItem(tr("no reordering"), QStringLiteral("none"));
    m_dampening->setRange(0, 0.99);
    m_dampening->setDecimals(3);
    m_dampening->setSingleStep(0.005);
    m_dampening->setValue(0.01);
    m_dampening->setPrefix(tr("dampening "));
    m_blockSize->setRange(1, 1 << 16);
    m_blockSize->setValue(128);
    m_blockSize->setPrefix(tr("block "));
    m_floatInputs->setToolTip(tr("Off (llm-compressor's default, propagate_error): each layer calibrates on the "
                                 "outputs of the layers already calibrated"));

    auto* grid = new QGridLayout(this);
    grid->addWidget(m_smooth, 0, 0);
    grid->addWidget(m_alpha, 0, 1);
    grid->addWidget(m_gptq, 1, 0);
    grid->addWidget(m_order, 1, 1);
    grid->addWidget(m_dampening, 1, 2);
    grid->addWidget(m_blockSize, 1, 3);
    grid->addWidget(m_floatInputs, 2, 0, 1, 4);
    grid->setColumnStretch(4, 1);

    for (QCheckBox* c : { m_smooth, m_gptq, m_floatInputs })
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

void AlgorithmsBox::updateEnabled()
{
    m_alpha->setEnabled(m_smooth->isChecked());
    for (QWidget* w : std::initializer_list<QWidget*> { m_order, m_dampening, m_blockSize })
        w->setEnabled(m_gptq->isChecked());
    m_floatInputs->setEnabled(m_smooth->isChecked() || m_gptq->isChecked());
}

AlgorithmSettings AlgorithmsBox::settings() const
{
    AlgorithmSettings a;
    if (m_smooth->isChecked())
        a.smoothQuant = m_alpha->value();
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
    m_gptq->setChecked(a.gptq);
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
    if (m_smooth->isChecked())
        parts << tr("SmoothQuant %1").arg(m_alpha->value(), 0, 'g', 3);
    if (m_gptq->isChecked())
        parts << tr("GPTQ");
    return parts.join(QStringLiteral(" + "));
}

void AlgorithmsBox::setGroupOrderAllowed(bool allowed)
{
    const int group = m_order->findData(QStringLiteral("group"));
    if (!allowed && m_order->currentIndex() == group)
        m_order->setCurrentIndex(0);
    if (auto* model = qobject_cast<QStandardItemModel*>(m_order->model())) {
        if (QStandardItem* item = model->item(group))
            item->setEnabled(allowed);
    }
}

} // namespace qs::app
