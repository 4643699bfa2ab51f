#include "runtime/fake_quant.h"

#include "error.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>

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

LinearInputHook fakeQuantizeActivations(const QuantScheme& scheme, std::set<std::string> kept)
{
    if (scheme.activations.empty() || scheme.activations == "none")
        return {};
    QuantScheme a;
    a.name = scheme.activations;
    a.symmetric = true;
    a.granularity = Granularity::Token;
    if (scheme.activations == "int8-token-dynamic") {
        a.format = QuantFormat::Int;
        a.bits = 8;
        a.convention = scheme.convention == ScaleConvention::FmsMo ? ScaleConvention::FmsMo : ScaleConvention::Nxd;
    } else if (scheme.activations == "fp8-token-dynamic") {
        a.format = QuantFormat::Fp8E4M3;
        a.fp8Max = 448.0;
        a.convention = ScaleConvention::Nxd;
    } else {
        throw UsageError("activations '" + scheme.activations
            + "' cannot be simulated yet: only dynamic per-token int8 and fp8 can (static ranges need calibration)");
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
