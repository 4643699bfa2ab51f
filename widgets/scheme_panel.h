// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "quant/quant_scheme.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSpinBox;

namespace qs::ui {

// Chooses a quantization scheme: a preset of the four source systems, then every field
// editable. Editing a field turns the preset into "<preset> (modified)"; an invalid
// combination is shown in red with the reason and is not emitted.
class SchemePanel : public QWidget
{
    Q_OBJECT
public:
    explicit SchemePanel(QWidget* parent = nullptr);

    const QuantScheme& scheme() const { return m_scheme; }
    // Shows `scheme` (a preset name selects that preset); emits schemeChanged.
    void setScheme(const QuantScheme& scheme);
    bool selectPreset(const QString& name);
    // The reason the edited fields are not a valid scheme, or empty.
    QString problem() const { return m_problem; }

Q_SIGNALS:
    void schemeChanged(const qs::QuantScheme& scheme);

private:
    void showScheme(const QuantScheme& scheme);
    void readFields();
    void updateEnabled();

    QuantScheme m_scheme;
    QString m_presetName;
    QString m_problem;
    bool m_updating = false;

    QComboBox* m_preset = nullptr;
    QLabel* m_description = nullptr;
    QComboBox* m_format = nullptr;
    QSpinBox* m_bits = nullptr;
    QCheckBox* m_symmetric = nullptr;
    QComboBox* m_granularity = nullptr;
    QSpinBox* m_axis = nullptr;
    QSpinBox* m_groupSize = nullptr;
    QComboBox* m_rounding = nullptr;
    QSpinBox* m_seed = nullptr;
    QComboBox* m_clipping = nullptr;
    QDoubleSpinBox* m_percentile = nullptr;
    QDoubleSpinBox* m_fp8Max = nullptr;
    QComboBox* m_convention = nullptr;
    QCheckBox* m_recompute = nullptr;
    QDoubleSpinBox* m_narrowThreshold = nullptr;
    QComboBox* m_activations = nullptr;
    QCheckBox* m_quirks = nullptr;
    QCheckBox* m_weightDtypeMath = nullptr;
    QLabel* m_status = nullptr;
};

} // namespace qs::ui
