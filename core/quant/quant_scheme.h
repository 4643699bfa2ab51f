// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

// What a weight becomes: the number format of its codes.
enum class QuantFormat
{
    Int, // signed integers of `bits` bits (2 to 8)
    Fp8E4M3, // float8 e4m3fn codes, values limited to +-fp8Max (448 OCP, 240 on Neuron)
    Fp8E5M2, // float8 e5m2 codes
    Ternary, // {-1, 0, +1} times a scale (1.58 bits)
};

// Which elements share one scale.
enum class Granularity
{
    Tensor, // one scale for the whole tensor
    Channel, // one per slice along `axis` (0 = output rows of a Linear weight)
    Group, // one per `groupSize` consecutive elements of each row (the last group may be shorter)
    Token, // activations: one per row of the input, computed at run time (dynamic)
};

enum class Rounding
{
    NearestEven, // round half to even (torch.round, nearbyint)
    Stochastic, // round up with probability equal to the fraction; seeded and reproducible
};

// How the range that maps to the largest code is chosen.
enum class Clipping
{
    AbsMax, // the largest magnitude (or min/max for affine)
    Percentile, // the `percentile`-th percentile of magnitudes
    MseSearch, // the clip among candidates that minimises the quantization MSE
    Sawb, // SAWB 8-bit: 31.76 * rms - 35.04 * mean|w| (fms-mo)
};

// Whose formulas: each consumer computes scales and codes its own way, and a checkpoint must
// match the consumer that loads it. Named, never guessed (see ../shared/reference/).
enum class ScaleConvention
{
    Nxd, // AWS Neuron: int8 scale = max(absmax/127, FLT_EPSILON) per channel, absmax/127.5 per
         // tensor (MinMaxObserver), codes [-128, 127];
         // fp8 scale = max(absmax/fp8Max, 1e-5) per channel (no floor per tensor)
    CompressedTensors, // vLLM: symmetric absmax / ((qmax - qmin) / 2) (127.5 for int8), clamp then
                       // round half to even (codes may reach -128); asymmetric with an int8 zero point
    FmsMo, // IBM AIU: clip = absmax (or SAWB), codes round(127 / clip * w) in [-127, 127]
    NanoGpt, // the ReaLLMASIC nanoGPT fork: absmax / (2^(b-1) - 1), affine, stochastic, ternary
};

struct QuantScheme
{
    std::string name; // preset name, or "custom"
    std::string description;
    QuantFormat format = QuantFormat::Int;
    int bits = 8;
    bool symmetric = true;
    Granularity granularity = Granularity::Channel;
    int axis = 0; // Channel: the dimension that keeps one scale per index
    int groupSize = 0; // Group: elements per group along the last dimension
    Rounding rounding = Rounding::NearestEven;
    std::uint64_t seed = 0; // Stochastic rounding
    Clipping clipping = Clipping::AbsMax;
    double percentile = 99.99; // Clipping::Percentile
    double fp8Max = 448.0; // Fp8E4M3: the largest magnitude used (448 OCP, 240 Neuron)
    ScaleConvention convention = ScaleConvention::Nxd;
    // fms-mo narrow-weight recomputation: when the unbiased std of a row's int codes is below
    // `narrowStdThreshold`, requantize that row with the SAWB clip (if below its abs-max).
    bool recomputeNarrowWeights = false;
    double narrowStdThreshold = 20.0;
    // Activations quantized by the consumer at run time (the checkpoint stores nothing for
    // them unless static): "none", "int8-token-dynamic", "fp8-token-dynamic", and the static
    // per-tensor "int8-tensor-static", "fp8-tensor-static" (evaluation calibrates their ranges;
    // the exporters do not write input scales yet and refuse them).
    std::string activations = "none";
    // nanoGPT fork only: reproduce its quirks (no epsilon, stochastic int8 wrap-around).
    bool nanogptQuirks = false;
    // compressed-tensors only: compute the scale, x / scale and the zero point in the weight's
    // own dtype (bf16/fp16), as llm-compressor does, so codes equal its output bit for bit. Off:
    // float32 throughout (slightly more accurate; about a quarter of the bf16 codes above 64 in
    // magnitude then differ by one). No effect on float32 weights.
    bool weightDtypeMath = false;

    // Checks that the fields make sense together; throws UsageError naming the field.
    void validate() const;
    // The codes' range for Int: [-2^(b-1), 2^(b-1)-1], or [-(2^(b-1)-1), ...] for fms-mo.
    int qmin() const;
    int qmax() const;
};

// The presets of the four source systems, in a stable order: nxd-int8, nxd-int8-tensor,
// nxd-fp8, nxd-fp8-e5m2, vllm-w8a8-int8, vllm-fp8-dynamic, vllm-w4a16, vllm-w8a16, aiu-int8,
// nanogpt-symmetric, nanogpt-affine, nanogpt-stochastic, nanogpt-ternary.
const std::vector<QuantScheme>& schemePresets();

// The activation modes a scheme's `activations` can name: "none", "int8-token-dynamic" and
// "fp8-token-dynamic" (one scale per token, computed by the consumer at run time),
// "int8-tensor-static" and "fp8-tensor-static" (one scale per Linear input, from calibration), and
// "int4-token-dynamic" (W4A4 as QuaRot and SpinQuant evaluate it: simulated only, no export).
const std::vector<std::string>& activationModes();
bool isStaticActivations(std::string_view mode);
std::optional<QuantScheme> findSchemePreset(std::string_view name);

// Stable names used in JSON and on the command line ("int", "fp8-e4m3", "channel", ...).
std::string_view formatName(QuantFormat v);
std::string_view granularityName(Granularity v);
std::string_view roundingName(Rounding v);
std::string_view clippingName(Clipping v);
std::string_view conventionName(ScaleConvention v);
std::optional<QuantFormat> quantFormatFromName(std::string_view name);
std::optional<Granularity> granularityFromName(std::string_view name);
std::optional<Rounding> roundingFromName(std::string_view name);
std::optional<Clipping> clippingFromName(std::string_view name);
std::optional<ScaleConvention> conventionFromName(std::string_view name);

// Every field, named as above; fromJson starts from `base` and overrides the fields present,
// throwing UsageError on unknown fields or values.
nlohmann::ordered_json schemeToJson(const QuantScheme& scheme);
QuantScheme schemeFromJson(const nlohmann::ordered_json& json, const QuantScheme& base = {});

} // namespace qs
