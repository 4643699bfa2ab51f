// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/fake_quant.h"

#include "error.h"
#include "jobs/progress.h"
#include "quant/fp8.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace qs {

WeightTransform fakeQuantizeWeights(
    const QuantScheme& scheme, std::set<std::string> kept, std::map<std::string, QuantScheme> moduleSchemes)
{
    return [scheme, kept = std::move(kept), moduleSchemes = std::move(moduleSchemes)](
               const std::string& module, const at::Tensor& weight) -> at::Tensor {
        if (kept.count(module))
            return weight;
        const auto own = moduleSchemes.find(module);
        const QuantScheme& s = own != moduleSchemes.end() ? own->second : scheme;
        QuantizeOptions options;
        options.errorMetrics = false;
        options.codeHistogram = false;
        try {
            return dequantizeScheme(quantizeWithScheme(weight, s, options)).reshape(weight.sizes()).contiguous();
        } catch (const Error& e) {
            throw FormatError(e.reason(), ErrorContext { {}, module + ".weight", {} });
        }
    };
}

ActivationRanges measureActivationRanges(
    const LanguageModel& model, const std::vector<std::vector<std::int64_t>>& windows, Progress& progress)
{
    const auto ranges = std::make_shared<ActivationRanges>();
    const LinearInputHook observe = activationRangeObserver(ranges);
    ProgressUpdate update;
    update.stepsTotal = static_cast<std::int64_t>(windows.size());
    for (const auto& w : windows) {
        progress.checkCancelled();
        model.forward(w, observe);
        ++update.stepsDone;
        progress.report(update);
    }
    return *ranges;
}

LinearInputHook activationRangeObserver(std::shared_ptr<ActivationRanges> ranges)
{
    return [ranges = std::move(ranges)](const std::string& module, const at::Tensor& x) {
        const float m = x.abs().max().item<float>();
        float& r = (*ranges)[module];
        r = std::max(r, std::isfinite(m) ? m : r);
        return x;
    };
}

namespace {

// x quantized with one fixed scale and dequantized.
at::Tensor staticInt8(const at::Tensor& x, float scale, double qmin, double qmax)
{
    return at::clamp(at::round(x / scale), qmin, qmax) * scale;
}

at::Tensor staticFp8(const at::Tensor& x, float scale)
{
    const at::Tensor in = x.contiguous();
    at::Tensor out = at::empty_like(in);
    const float* src = in.data_ptr<float>();
    float* dst = out.data_ptr<float>();
    at::parallel_for(0, in.numel(), 1 << 14, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i)
            dst[i] = fp8ToFloat(Fp8Format::E4M3, floatToFp8(Fp8Format::E4M3, src[i] / scale)) * scale;
    });
    return out;
}

LinearInputHook staticActivations(
    const QuantScheme& scheme, std::set<std::string> kept, std::shared_ptr<const ActivationRanges> ranges)
{
    const bool fp8 = scheme.activations == "fp8-tensor-static";
    const bool fmsMo = scheme.convention == ScaleConvention::FmsMo;
    return [fp8, fmsMo, kept = std::move(kept), ranges = std::move(ranges)](
               const std::string& module, const at::Tensor& x) -> at::Tensor {
        if (kept.count(module) || module == "lm_head")
            return x;
        const auto it = ranges->find(module);
        if (it == ranges->end())
            throw UsageError("static activation quantization: the calibration never reached the input of " + module);
        const float absMax = std::max(it->second, 1e-12F);
        if (fp8)
            return staticFp8(x, absMax / 448.0F);
        return fmsMo ? staticInt8(x, absMax / 127.0F, -127, 127) : staticInt8(x, absMax / 127.5F, -128, 127);
    };
}

} // namespace

LinearInputHook fakeQuantizeActivations(const QuantScheme& scheme, std::set<std::string> kept, ActivationRanges ranges)
{
    return fakeQuantizeActivations(
        scheme, std::move(kept), std::make_shared<const ActivationRanges>(std::move(ranges)));
}

LinearInputHook fakeQuantizeActivations(
    const QuantScheme& scheme, std::set<std::string> kept, std::shared_ptr<const ActivationRanges> ranges)
{
    if (scheme.activations.empty() || scheme.activations == "none")
        return {};
    if (isStaticActivations(scheme.activations))
        return staticActivations(scheme, std::move(kept), std::move(ranges));
    QuantScheme a;
    a.name = scheme.activations;
    a.symmetric = true;
    a.granularity = Granularity::Token;
    if (scheme.activations == "int8-token-dynamic") {
        a.format = QuantFormat::Int;
        a.bits = 8;
        a.convention = scheme.convention == ScaleConvention::FmsMo ? ScaleConvention::FmsMo : ScaleConvention::Nxd;
    } else if (scheme.activations == "int4-token-dynamic") { // W4A4 (QuaRot, SpinQuant): absmax / 7 per token
        a.format = QuantFormat::Int;
        a.bits = 4;
        a.convention = ScaleConvention::Nxd;
    } else if (scheme.activations == "fp8-token-dynamic") {
        a.format = QuantFormat::Fp8E4M3;
        a.fp8Max = 448.0;
        a.convention = ScaleConvention::Nxd;
    } else {
        throw UsageError("unknown activation mode '" + scheme.activations
            + "' (none, int8-token-dynamic, fp8-token-dynamic, int4-token-dynamic, int8-tensor-static, "
              "fp8-tensor-static)");
    }
    return [a, kept = std::move(kept)](const std::string& module, const at::Tensor& x) -> at::Tensor {
        if (kept.count(module) || module == "lm_head")
            return x;
        QuantizeOptions options;
        options.errorMetrics = false;
        options.codeHistogram = false;
        options.parallel = x.size(0) > 64;
        return dequantizeScheme(quantizeActivations(x.contiguous(), a, options)).reshape(x.sizes());
    };
}

} // namespace qs
