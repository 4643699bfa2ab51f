// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "algo/algorithm_settings.h"

#include <QGroupBox>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QSpinBox;

namespace qs::app {

// The calibration algorithms that run before quantizing, as llm-compressor's recipe names them:
// SmoothQuant with its smoothing strength, then GPTQ with its activation order, dampening and
// block size, and whether the calibration samples go on through the calibrated layers. Shared by
// the Evaluate tab and the export dialog.
class AlgorithmsBox : public QGroupBox
{
    Q_OBJECT
public:
    explicit AlgorithmsBox(QWidget* parent = nullptr);

    AlgorithmSettings settings() const;
    void setSettings(const AlgorithmSettings& settings);
    // "SmoothQuant 0.8 + GPTQ", or empty when none is on.
    QString summary() const;
    // Whether GPTQ's group activation order is offered (an export cannot write g_idx yet).
    void setGroupOrderAllowed(bool allowed);

Q_SIGNALS:
    void changed();

private:
    void updateEnabled();

    QCheckBox* m_smooth = nullptr;
    QDoubleSpinBox* m_alpha = nullptr;
    QCheckBox* m_gptq = nullptr;
    QComboBox* m_order = nullptr;
    QDoubleSpinBox* m_dampening = nullptr;
    QSpinBox* m_blockSize = nullptr;
    QCheckBox* m_floatInputs = nullptr;
};

} // namespace qs::app
