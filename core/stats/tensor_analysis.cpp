// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/tensor_analysis.h"

#include "error.h"
#include "io/checkpoint.h"
#include "jobs/conversion_plan.h"
#include "model/module_tree.h"
#include "quant/fork_scheme.h"
#include "quant/scheme_quantizer.h"
#include "stats/distribution.h"
#include "stats/quantized_distribution.h"

#include <ATen/ATen.h>

namespace qs {
namespace {

// The fork's stored codes of this float weight, measured against it on its bins.
void addStoredCodes(TensorAnalysis& a, const Checkpoint& checkpoint, const at::Tensor& floatValues,
    const std::string& codes, const AnalysisOptions& options)
{
    const at::Tensor deq = checkpoint.loadDequantized(codes);
    if (deq.sizes() != floatValues.sizes())
        return;
    a.storedCodes = codes;
    DistributionOptions d;
    d.bins = options.bins;
    d.cancel = options.cancel;
    d.perChannel = false;
    d.percentiles.clear();
    d.rangeLo = a.original.lo;
    d.rangeHi = a.original.hi;
    a.storedDequantized = measureDistribution(deq, d).histogram;
    const at::Tensor x = floatValues.reshape({ -1 }).to(at::kFloat).contiguous();
    const at::Tensor y = deq.reshape({ -1 }).contiguous();
    ErrorAccumulator e;
    const float* px = x.data_ptr<float>();
    const float* py = y.data_ptr<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i)
        e.add(px[i], py[i]);
    a.storedError = e.finish();
}

void describeForkScheme(TensorAnalysis& a, const Checkpoint& checkpoint, const std::string& codes)
{
    const ForkSchemeGuess g = inferForkScheme(checkpoint, codes);
    a.storedScheme = g.describe();
    a.storedSchemeBasis = g.basis;
}

} // namespace

TensorAnalysis analyzeTensor(
    const Checkpoint& checkpoint, const ModuleTree& tree, const std::string& tensorName, const AnalysisOptions& options)
{
    TensorAnalysis a;
    a.info = checkpoint.info(tensorName);
    // Stored quantized weights (and fp8 tensors) are measured by the float values they stand for.
    const bool storedQuantized = checkpoint.quantization().recipes.count(tensorName) > 0;
    const bool fp8 = a.info.dtype == DType::F8_E4M3 || a.info.dtype == DType::F8_E5M2;
    at::Tensor view = storedQuantized || fp8 ? checkpoint.loadDequantized(tensorName) : checkpoint.load(tensorName);
    // GPT-2's Conv1D weight is stored [in, out]: measured and quantized as the Linear [out, in].
    const int module = tree.moduleOfTensor(tensorName);
    if (module >= 0 && tree.isTransposed(module) && tensorName == tree.node(module).path + ".weight"
        && view.dim() == 2) {
        view = view.t().contiguous();
        a.transposed = true;
    }
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
    const QuantizationInfo& stored = checkpoint.quantization();
    if (stored.kind == "nanogpt-fork") {
        if (storedQuantized)
            describeForkScheme(a, checkpoint, tensorName);
        if (const auto it = stored.storedCodes.find(tensorName); it != stored.storedCodes.end()) {
            addStoredCodes(a, checkpoint, view, it->second, options);
            describeForkScheme(a, checkpoint, it->second);
        }
    }

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
