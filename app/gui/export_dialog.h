// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calibration_choice.h"

#include <QDialog>
#include <QStringList>

#include <functional>

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;

namespace qs::app {

// Asks where and how to export: target format, destination folder, overwrite, and shows
// what will happen (modules quantized and kept, the keep list as it will be written).
class ExportDialog : public QDialog
{
    Q_OBJECT
public:
    // `nxdKeepList`: modules_to_not_convert as NxD gets it; `fullKeepList`: the kept modules'
    // full names (compressed-tensors `ignore`). `problemFor(format)` says why the current scheme
    // cannot be written in a format (empty when it can).
    ExportDialog(const QString& suggestedDestination, int quantizedCount, int keptCount, const QStringList& nxdKeepList,
        const QStringList& fullKeepList = {}, std::function<QString(const QString&)> problemFor = {},
        QWidget* parent = nullptr);

    QString destination() const;
    QString format() const; // "nxd" or "compressed-tensors"
    void setFormat(const QString& format);
    bool overwrite() const;
    // The calibration before the export: the scheme dock's (SmoothQuant and GPTQ, shown here),
    // on samples of the data file (also what static activation scales are measured on:
    // setNeedsCalibration); the data, samples and length can be changed here.
    void setCalibration(const CalibrationChoice& choice);
    AlgorithmSettings algorithms() const;
    QString calibrationData() const;
    int calibrationSamples() const;
    int calibrationSeqLen() const;
    void setCalibrationData(const QString& path);
    void setNeedsCalibration(bool needed); // the scheme's static activation scales
    bool calibrating() const;

private:
    void browse();
    void validate();

    void showKeepList();

    QStringList m_nxdKeepList;
    QStringList m_fullKeepList;
    std::function<QString(const QString&)> m_problemFor;
    QComboBox* m_format = nullptr;
    QLabel* m_keepLabel = nullptr;
    QPlainTextEdit* m_keepList = nullptr;
    QLineEdit* m_destination = nullptr;
    QCheckBox* m_overwrite = nullptr;
    CalibrationChoice m_calibration;
    QLabel* m_algorithms = nullptr;
    QLineEdit* m_data = nullptr;
    QSpinBox* m_samples = nullptr;
    QSpinBox* m_seqLen = nullptr;
    bool m_needsCalibration = false;
    QLabel* m_problem = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
};

} // namespace qs::app
