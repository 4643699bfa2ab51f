#pragma once

// Fake quantization for evaluation: each Linear weight quantized with a scheme and dequantized
// (what the exported checkpoint will compute with), and the scheme's run-time activation
// quantization applied to each Linear's input.
#include "quant/quant_scheme.h"
#include "runtime/llama_model.h"

#include <map>
#include <set>
#include <string>

namespace qs {

// Quantizes and dequantizes every Linear weight except the kept modules (full paths), with the
// module's own scheme when `moduleSchemes` has one. Errors name the module.
WeightTransform fakeQuantizeWeights(
    const QuantScheme& scheme, std::set<std::string> kept, std::map<std::string, QuantScheme> moduleSchemes = {});

// The scheme's activations as the consumer quantizes them at run time, on the input of every
// quantized Linear: "int8-token-dynamic" (one scale per token, abs-max / 127) and
// "fp8-token-dynamic" (e4m3, abs-max / 448). Empty for "none". UsageError for static schemes,
// which need calibrated ranges.
LinearInputHook fakeQuantizeActivations(const QuantScheme& scheme, std::set<std::string> kept);

} // namespace qs
