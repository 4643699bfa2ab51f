// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/tensor_comparison.h"

#include "error.h"
#include "io/checkpoint.h"
#include "stats/distribution.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <mutex>

namespace qs {
namespace {

at::Tensor valuesOf(const Checkpoint& c, const std::string& name, std::string& stored)
{
    const TensorInfo& info = c.info(name);
    const bool quantized = c.quantization().recipes.count(name) > 0;
    const bool fp8 = info.dtype == DType::F8_E4M3 || info.dtype == DType::F8_E5M2;
    if (quantized)
        stored = c.quantization().kind;
    return quantized || fp8 ? c.loadDequantized(name) : c.load(name);
}

ErrorMetrics differenceOf(const at::Tensor& a, const at::Tensor& b, CancelToken cancel)
{
    const at::Tensor x = a.reshape({ -1 }).to(at::kFloat).contiguous();
    const at::Tensor y = b.reshape({ -1 }).to(at::kFloat).contiguous();
    const float* px = x.data_ptr<float>();
    const float* py = y.data_ptr<float>();
    ErrorAccumulator total;
    std::mutex merge;
    at::parallel_for(0, x.numel(), 1 << 16, [&](std::int64_t begin, std::int64_t end) {
        ErrorAccumulator local;
        for (std::int64_t i = begin; i < end; ++i) {
            if ((i & 0xffff) == 0 && cancel.cancelled())
                return;
            local.add(px[i], py[i]);
        }
        std::lock_guard<std::mutex> lock(merge);
        total.merge(local);
    });
    return total.finish();
}

} // namespace

std::string counterpartTensor(const Checkpoint& other, const std::string& name)
{
    if (other.find(name))
        return name;
    if (other.find(name + "_packed"))
        return name + "_packed";
    const std::string weight = ".weight";
    if (name.size() > weight.size() && name.compare(name.size() - weight.size(), weight.size(), weight) == 0) {
        const std::string codes = name.substr(0, name.size() - weight.size()) + ".quantized_weight";
        if (other.quantization().recipes.count(codes))
            return codes;
    }
    return {};
}

TensorComparison compareTensors(const Checkpoint& a, const std::string& nameA, const Checkpoint& b,
    const std::string& nameB, int bins, CancelToken cancel)
{
    TensorComparison c;
    c.name = nameA == nameB ? nameA : nameA + " / " + nameB;
    const at::Tensor x = valuesOf(a, nameA, c.storedA);
    const at::Tensor y = valuesOf(b, nameB, c.storedB);
    c.shapeA = a.info(nameA).shape;
    c.shapeB = b.info(nameB).shape;
    c.dtypeA = std::string(dtypeName(a.info(nameA).dtype));
    c.dtypeB = std::string(dtypeName(b.info(nameB).dtype));

    DistributionOptions own;
    own.cancel = cancel;
    own.bins = 0;
    own.perChannel = false;
    c.a = measureDistribution(x, own).stats;
    c.b = measureDistribution(y, own).stats;
    DistributionOptions common;
    common.cancel = cancel;
    common.bins = bins;
    common.perChannel = false;
    common.percentiles.clear();
    common.rangeLo = std::min(c.a.min, c.b.min);
    common.rangeHi = std::max(c.a.max, c.b.max);
    if (!(common.rangeHi > common.rangeLo)) { // as HistogramBuilder widens a flat range
        const double pad = std::max(std::fabs(common.rangeLo) * 1e-3, 1e-6);
        common.rangeLo -= pad;
        common.rangeHi += pad;
    }
    c.histogramA = measureDistribution(x, common).histogram;
    c.histogramB = measureDistribution(y, common).histogram;
    c.sameShape = x.sizes() == y.sizes();
    if (c.sameShape && x.numel() > 0)
        c.difference = differenceOf(x, y, cancel);
    if (cancel.cancelled())
        throw CancelledError();
    return c;
}

} // namespace qs
