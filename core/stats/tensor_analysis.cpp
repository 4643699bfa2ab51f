// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/tensor_analysis.h"

#include "error.h"
#include "io/checkpoint.h"
#include "jobs/conversion_plan.h"
#include "model/module_tree.h"
#include "quant/scheme_quantizer.h"
#include "stats/distribution.h"
#include "stats/quantized_distribution.h"

#include <ATen/ATen.h>

namespace qs {

TensorAnalysis analyzeTensor(
    const Checkpoint& checkpoint, const ModuleTree& tree, const std::string& tensorName, const AnalysisOptions& options)
{
    TensorAnalysis a;
    a.info = checkpoint.info(tensorName);
    // Stored quantized weights (and fp8 tensors) are measured by the float values they stand for.
    const bool storedQuantized = checkpoint.quantization().recipes.count(tensorName) > 0;
    const bool fp8 = a.info.dtype == DType::F8_E4M3 || a.info.dtype == DType::F8_E5M2;
    const at::Tensor view
        = storedQuantized || fp8 ? checkpoint.loadDequantized(tensorName) : checkpoint.load(tensorName);
    if (storedQuantized)
        a.storedQuantization = checkpoint.quantization().kind;

    DistributionOptions d;
    d.bins = options.bins;
    d.cancel = options.cancel;
    Distribution distribution = measureDistribution(view, d);
    a.summary = std::move(distribution.stats);
    a.original = std::move(distribution.histogram);
    a.channels = std::move(distribution.channels);
    a.rows = view.dim() >= 2 ? view.size(0) : 1;
    a.cols = a.rows > 0 ? view.numel() / a.rows : 0;

    const bool wanted
        = options.quantizeAny ? view.is_floating_point() && view.numel() > 0 : isQuantizableWeight(tree, a.info);
    if (!options.quantize || storedQuantized || !wanted)
        return a;
    if (a.summary.nonFinite > 0) {
        a.note = std::to_string(a.summary.nonFinite) + " values are NaN or infinite; the tensor cannot be quantized";
        return a;
    }
    QuantizeOptions q;
    q.cancel = options.cancel;
    const SchemeQuantized quantized = quantizeWithScheme(view, options.scheme, q);
    a.error = quantized.error;
    a.clippedFraction = quantized.clippedFraction;
    a.recomputedRows = quantized.recomputedRows;
    a.dequantized = dequantizedHistogram(quantized, a.original.lo, a.original.hi, options.bins);
    a.codes = codeHistogramOf(quantized);
    a.clipLines = clipLinesOf(quantized);
    a.scaleMin = quantized.scale.min().item<double>();
    a.scaleMax = quantized.scale.max().item<double>();
    const std::vector<float>& after = quantized.codeStdAfter.empty() ? quantized.codeStd : quantized.codeStdAfter;
    if (static_cast<std::int64_t>(after.size()) == a.channels.size()) {
        a.channels.codeStd = after;
        if (quantized.codeStdBefore.size() == after.size())
            a.channels.codeStdBefore = quantized.codeStdBefore;
    }
    a.quantized = true;
    a.schemeName = options.scheme.name.empty() ? "nxd-int8" : options.scheme.name;
    return a;
}

} // namespace qs
