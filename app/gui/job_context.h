// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calibration_choice.h"
#include "loaded_model.h"
#include "project/project.h"
#include "quant/quant_scheme.h"

#include <QString>

#include <functional>

class QWidget;

namespace qs::app {

class JobController;
class SelectionEditor;

// What a job's controller needs from the window, and nothing more: the job runner, the open
// model, the scheme dock's scheme and calibration, the keep selection, and a way to bring a view
// to the front. The window fills it once; controllers never see the window itself.
struct JobContext
{
    JobController* jobs = nullptr;
    std::function<LoadedModelPtr()> model; // the open model; null before one is opened
    std::function<QString()> modelPath; // its absolute path
    std::function<QuantScheme()> scheme; // the scheme panel's scheme
    std::function<CalibrationChoice()> calibration; // the scheme dock's calibration section
    // What it shows as the calibration data file, samples and tokens per sample.
    std::function<void(const QString& data, int samples, int seqLen)> setCalibrationSamples;
    SelectionEditor* selection = nullptr; // the keep rules, what they keep and per-module schemes
    std::function<Project()> project; // the session as a project (File > Save Project writes it)
    std::function<void(QWidget*)> show; // brings a view's tab to the front
};

} // namespace qs::app
