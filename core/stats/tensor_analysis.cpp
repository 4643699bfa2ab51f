#include "stats/tensor_analysis.h"

#include "error.h"
#include "io/checkpoint.h"
#include "jobs/conversion_plan.h"
#include "model/module_tree.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

namespace qs {
namespace {

TensorSummary summarize(const float* v, std::int64_t n)
{
    TensorSummary s;
    s.count = n;
    if (n == 0)
        return s;
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    double sum = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(v[i])) {
            s.min = s.max = std::numeric_limits<double>::quiet_NaN();
            return s;
        }
        lo = std::min<double>(lo, v[i]);
        hi = std::max<double>(hi, v[i]);
        sum += v[i];
    }
    const double mean = sum / static_cast<double>(n);
    double sq = 0;
    double fourth = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double d = v[i] - mean;
        sq += d * d;
        fourth += d * d * d * d;
    }
    // Excess kurtosis (0 for a Gaussian): heavy tails and outlier channels show up as large values.
    const double variance = sq / static_cast<double>(n);
    s.kurtosis = variance > 0 ? fourth / static_cast<double>(n) / (variance * variance) - 3.0 : 0.0;
    s.min = lo;
    s.max = hi;
    s.mean = mean;
    s.std = n > 1 ? std::sqrt(sq / static_cast<double>(n - 1)) : 0.0;
    return s;
}

} // namespace

TensorAnalysis analyzeTensor(const Checkpoint& checkpoint, const ModuleTree& tree, const std::string& tensorName,
    int bins, const QuantScheme& scheme)
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
    const at::Tensor values = view.to(at::kFloat).contiguous();
    const float* data = values.data_ptr<float>();
    const std::int64_t n = values.numel();
    a.summary = summarize(data, n);
    if (!std::isfinite(a.summary.min) || !std::isfinite(a.summary.max)) {
        if (n > 0)
            throw FormatError("the tensor contains NaN or infinity", ErrorContext { a.info.source, a.info.name, {} });
    }

    HistogramBuilder original(a.summary.min, a.summary.max, bins);
    original.addAll(data, n);
    a.original = original.histogram();

    if (!storedQuantized && isQuantizableWeight(tree, a.info)) {
        const SchemeQuantized q = quantizeWithScheme(view, scheme);
        a.error = q.error;
        a.clippedFraction = q.clippedFraction;
        a.recomputedRows = q.recomputedRows;
        const at::Tensor deq = dequantizeScheme(q).contiguous();
        const at::Tensor& scale = q.scale;
        HistogramBuilder dequantized(a.original.lo, a.original.hi, bins);
        dequantized.addAll(deq.data_ptr<float>(), deq.numel());
        a.dequantized = dequantized.histogram();
        a.scaleMin = scale.min().item<double>();
        a.scaleMax = scale.max().item<double>();
        a.quantized = true;
        a.schemeName = scheme.name.empty() ? "nxd-int8" : scheme.name;
    }
    return a;
}

} // namespace qs
