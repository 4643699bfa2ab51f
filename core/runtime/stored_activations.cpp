// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/stored_activations.h"

#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "runtime/activation_capture.h"

#include <ATen/ATen.h>

namespace qs {

std::vector<ActivationStats> storedActivations(const Checkpoint& checkpoint, Progress& progress)
{
    const std::vector<std::string>& names = checkpoint.quantization().activations;
    ActivationCapture capture;
    ProgressUpdate update;
    update.stepsTotal = static_cast<std::int64_t>(names.size());
    for (const std::string& name : names) {
        progress.checkCancelled();
        update.current = name;
        progress.report(update);
        const at::Tensor values = checkpoint.loadDequantized(name);
        const auto dot = name.rfind('.');
        capture.record(name, dot == std::string::npos ? name : name.substr(dot + 1), values, values.dim() > 0);
        checkpoint.release(name);
        ++update.stepsDone;
    }
    update.current.clear();
    progress.report(update);
    return capture.results();
}

} // namespace qs
