// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calibration_choice.h"

#include <QGroupBox>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;

namespace qs::app {

// The scheme dock's calibration section: the algorithms that run before quantizing, as
// llm-compressor's recipe names them (a rotation, learned by SpinQuant or not, SmoothQuant with its smoothing strength or AWQ with its duo
// scaling, then GPTQ with its
// activation order, dampening and block size, and whether the calibration samples go on through
// the calibrated layers), and the calibration data, samples and sample length. Evaluate and Export
// both calibrate with what it says.
class AlgorithmsBox : public QGroupBox
{
    Q_OBJECT
public:
    explicit AlgorithmsBox(QWidget* parent = nullptr);

    AlgorithmSettings settings() const;
    void setSettings(const AlgorithmSettings& settings);
    QString calibrationData() const;
    void setCalibrationData(const QString& path);
    int samples() const;
    void setSamples(int samples);
    int seqLen() const;
    void setSeqLen(int tokens);
    void setMaxSeqLen(int positions); // the model's positions: longer samples cannot run
    CalibrationChoice choice() const;
    // "SmoothQuant 0.8 + GPTQ", or empty when none is on.
    QString summary() const;

Q_SIGNALS:
    void changed();

private:
    void layOut(QWidget* browse);
    void setUpRotation();
    void updateEnabled();

    QComboBox* m_rotation = nullptr;
    QSpinBox* m_rotationSeed = nullptr;
    QCheckBox* m_online = nullptr;
    QCheckBox* m_spinQuant = nullptr;
    QSpinBox* m_spinSteps = nullptr;
    QDoubleSpinBox* m_spinLr = nullptr;
    QCheckBox* m_smooth = nullptr;
    QDoubleSpinBox* m_alpha = nullptr;
    QCheckBox* m_awq = nullptr;
    QComboBox* m_duo = nullptr;
    QCheckBox* m_awqClip = nullptr;
    QCheckBox* m_gptq = nullptr;
    QComboBox* m_order = nullptr;
    QDoubleSpinBox* m_dampening = nullptr;
    QSpinBox* m_blockSize = nullptr;
    QCheckBox* m_floatInputs = nullptr;
    QLineEdit* m_data = nullptr;
    QSpinBox* m_samples = nullptr;
    QSpinBox* m_seqLen = nullptr;
};

} // namespace qs::app
