// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "job_context.h"
#include "runtime/evaluation.h"

#include <QString>

#include <optional>

namespace qs::app {

class EvalPanel;

// The Evaluate tab's data, windows, protocol and memory with the scheme dock's scheme, calibration
// and the keep selection, as a request; nothing (and `error` says why) when they cannot run.
std::optional<EvaluationRequest> evaluationRequestFromViews(const JobContext& context, const EvalPanel& view, QString& error);

} // namespace qs::app
