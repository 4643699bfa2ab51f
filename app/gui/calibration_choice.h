// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "algo/algorithm_settings.h"

#include <QString>

namespace qs::app {

// The calibration the scheme dock asks for: the algorithms that run before quantizing and the
// samples they (and static activation ranges) are measured on. Plain data, for the controllers.
struct CalibrationChoice
{
    AlgorithmSettings algorithms;
    QString summary; // "SmoothQuant 0.8 + GPTQ", or empty when no algorithm is on
    QString data; // token ids, JSON lines or text; empty: Evaluate takes the evaluation data
    int samples = 64;
    int seqLen = 512; // tokens per sample
};

} // namespace qs::app
