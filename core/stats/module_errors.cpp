// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/module_errors.h"

#include "error.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "quant/scheme_quantizer.h"
#include "stats/distribution.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

namespace qs {

std::vector<LayerError> measureLayerErrors(
    const Checkpoint& checkpoint, const ModuleTree& tree, const QuantScheme& scheme, Progress& progress)
{
    std::vector<LayerError> out;
    ProgressUpdate update;
    update.stepsTotal = static_cast<std::int64_t>(tree.quantizable().size());
    QuantizeOptions options;
    options.codeHistogram = false;
    options.cancel = progress.token();
    DistributionOptions distribution;
    distribution.bins = 0;
    distribution.percentiles.clear();
    distribution.cancel = progress.token();
    for (const int m : tree.quantizable()) {
        progress.checkCancelled();
        const std::string weight = tree.node(m).path + ".weight";
        update.current = weight;
        progress.report(update);
        const TensorInfo* info = checkpoint.find(weight);
        if (info == nullptr)
            continue;
        LayerError row;
        row.node = m;
        row.module = tree.node(m).path;
        row.tensor = weight;
        row.shape = tree.node(m).weightShape; // [out, in], a Conv1D's transposed
        try {
            // Per output channel of the Linear weight: a Conv1D's stored [in, out] transposed.
            const at::Tensor w
                = tree.isTransposed(m) ? checkpoint.load(weight).t().contiguous() : checkpoint.load(weight);
            const SchemeQuantized q = quantizeWithScheme(w, scheme, options);
            Distribution d = measureDistribution(w, distribution);
            row.error = q.error;
            row.clippedFraction = q.clippedFraction;
            row.kurtosis = d.stats.kurtosis;
            row.channels = d.channels.size();
            row.outlierChannels = countOutlierChannels(d.channels);
            // fms-mo's narrow-channel criterion (code std >= 20) is about int8 codes.
            const std::vector<float>& codeStd = q.codeStdAfter.empty() ? q.codeStd : q.codeStdAfter;
            const bool int8 = scheme.format == QuantFormat::Int && scheme.bits == 8;
            row.minCodeStd = int8 && !codeStd.empty() ? *std::min_element(codeStd.begin(), codeStd.end())
                                                      : std::numeric_limits<double>::quiet_NaN();
            row.narrowChannels = int8 ? countBelow(codeStd) : 0;
        } catch (const CancelledError&) {
            throw;
        } catch (const Error& e) {
            throw FormatError(e.reason(), ErrorContext { info->source, weight, {} });
        }
        progress.checkCancelled();
        checkpoint.release(weight);
        out.push_back(std::move(row));
        ++update.stepsDone;
    }
    progress.report(update);
    return out;
}

std::map<int, double> measureModuleSqnr(
    const Checkpoint& checkpoint, const ModuleTree& tree, const QuantScheme& scheme, Progress& progress)
{
    std::map<int, double> out;
    for (const LayerError& row : measureLayerErrors(checkpoint, tree, scheme, progress))
        out[row.node] = row.error.sqnrDb;
    return out;
}

} // namespace qs
