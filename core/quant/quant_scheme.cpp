// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/quant_scheme.h"

#include "error.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include <array>
#include <utility>

namespace qs {
namespace {

template <typename Enum, std::size_t N> using NameTable = std::array<std::pair<Enum, std::string_view>, N>;

constexpr NameTable<QuantFormat, 4> kFormats { { { QuantFormat::Int, "int" }, { QuantFormat::Fp8E4M3, "fp8-e4m3" },
    { QuantFormat::Fp8E5M2, "fp8-e5m2" }, { QuantFormat::Ternary, "ternary" } } };
constexpr NameTable<Granularity, 4> kGranularities { { { Granularity::Tensor, "tensor" },
    { Granularity::Channel, "channel" }, { Granularity::Group, "group" }, { Granularity::Token, "token" } } };
constexpr NameTable<Rounding, 2> kRoundings { { { Rounding::NearestEven, "nearest-even" },
    { Rounding::Stochastic, "stochastic" } } };
constexpr NameTable<Clipping, 4> kClippings { { { Clipping::AbsMax, "absmax" }, { Clipping::Percentile, "percentile" },
    { Clipping::MseSearch, "mse" }, { Clipping::Sawb, "sawb" } } };
constexpr NameTable<ScaleConvention, 4> kConventions { { { ScaleConvention::Nxd, "nxd" },
    { ScaleConvention::CompressedTensors, "compressed-tensors" }, { ScaleConvention::FmsMo, "fms-mo" },
    { ScaleConvention::NanoGpt, "nanogpt" } } };

template <typename Enum, std::size_t N> std::string_view nameOf(const NameTable<Enum, N>& table, Enum v)
{
    for (const auto& [e, name] : table) {
        if (e == v)
            return name;
    }
    return "?";
}

template <typename Enum, std::size_t N>
std::optional<Enum> fromName(const NameTable<Enum, N>& table, std::string_view name)
{
    for (const auto& [e, n] : table) {
        if (n == name)
            return e;
    }
    return std::nullopt;
}

template <typename Enum, std::size_t N> std::string choices(const NameTable<Enum, N>& table)
{
    std::string out;
    for (const auto& [e, n] : table)
        out += (out.empty() ? "" : ", ") + std::string(n);
    return out;
}

QuantScheme preset(std::string name, std::string description, QuantFormat format, int bits, Granularity granularity,
    ScaleConvention convention)
{
    QuantScheme s;
    s.name = std::move(name);
    s.description = std::move(description);
    s.format = format;
    s.bits = bits;
    s.granularity = granularity;
    s.convention = convention;
    return s;
}

std::vector<QuantScheme> makePresets()
{
    using F = QuantFormat;
    using G = Granularity;
    using C = ScaleConvention;
    std::vector<QuantScheme> p;
    p.push_back(preset("nxd-int8", "AWS Neuron NxD: int8 per output channel, scale = max(absmax/127, FLT_EPSILON)",
        F::Int, 8, G::Channel, C::Nxd));
    p.push_back(preset("nxd-int8-tensor",
        "AWS Neuron NxD: int8 per tensor, scale = max(absmax/127.5, FLT_EPSILON) (torch MinMaxObserver)", F::Int, 8,
        G::Tensor, C::Nxd));
    p.push_back(preset("nxd-fp8", "AWS Neuron NxD: fp8 e4m3 per output channel within +-240 (Neuron's range)",
        F::Fp8E4M3, 8, G::Channel, C::Nxd));
    p.back().fp8Max = 240.0;
    p.push_back(
        preset("nxd-fp8-e5m2", "AWS Neuron NxD: fp8 e5m2 per output channel", F::Fp8E5M2, 8, G::Channel, C::Nxd));
    p.back().fp8Max = 57344.0;
    p.push_back(preset("vllm-w8a8-int8",
        "vLLM compressed-tensors int-quantized: int8 channel weights (absmax/127.5), dynamic per-token int8 "
        "activations",
        F::Int, 8, G::Channel, C::CompressedTensors));
    p.back().activations = "int8-token-dynamic";
    p.back().weightDtypeMath = true;
    p.push_back(preset("vllm-fp8-dynamic",
        "vLLM compressed-tensors float-quantized: fp8 e4m3 channel weights (absmax/448), dynamic per-token fp8 "
        "activations",
        F::Fp8E4M3, 8, G::Channel, C::CompressedTensors));
    p.back().activations = "fp8-token-dynamic";
    p.back().weightDtypeMath = true;
    p.push_back(
        preset("vllm-w4a16", "vLLM compressed-tensors pack-quantized: int4 weights in groups of 128 (absmax/7.5)",
            F::Int, 4, G::Group, C::CompressedTensors));
    p.back().groupSize = 128;
    p.back().weightDtypeMath = true;
    p.push_back(preset("vllm-w8a16", "vLLM compressed-tensors pack-quantized: int8 channel weights, float activations",
        F::Int, 8, G::Channel, C::CompressedTensors));
    p.back().weightDtypeMath = true;
    p.push_back(preset("aiu-int8",
        "IBM AIU (fms-mo DQ): int8 per channel in [-127, 127] (clip = absmax), narrow-weight recomputation with SAWB, "
        "dynamic per-token int8 activations",
        F::Int, 8, G::Channel, C::FmsMo));
    p.back().recomputeNarrowWeights = true;
    p.back().activations = "int8-token-dynamic";
    p.push_back(preset("nanogpt-symmetric", "nanoGPT quantization fork: symmetric absmax/(2^(b-1)-1) per tensor",
        F::Int, 8, G::Tensor, C::NanoGpt));
    p.push_back(preset("nanogpt-affine", "nanoGPT quantization fork: affine (max-min)/(2^b-1) with a zero point",
        F::Int, 8, G::Tensor, C::NanoGpt));
    p.back().symmetric = false;
    p.push_back(preset("nanogpt-stochastic",
        "nanoGPT quantization fork: stochastic rounding of |x|/absmax*(2^(b-1)-1), seeded (the fork's 2^b-1 "
        "levels wrap in int8; nanogpt_quirks reproduces that)",
        F::Int, 8, G::Tensor, C::NanoGpt));
    p.back().rounding = Rounding::Stochastic;
    p.push_back(preset("nanogpt-ternary", "nanoGPT quantization fork: ternary {-1, 0, 1} times mean|x|", F::Ternary, 2,
        G::Tensor, C::NanoGpt));
    return p;
}

[[noreturn]] void invalid(const std::string& scheme, const std::string& reason)
{
    throw UsageError("scheme '" + scheme + "': " + reason);
}

} // namespace

void QuantScheme::validate() const
{
    const std::string& n = name.empty() ? std::string("custom") : name;
    const bool fp8 = format == QuantFormat::Fp8E4M3 || format == QuantFormat::Fp8E5M2;
    if (format == QuantFormat::Int && (bits < 2 || bits > 8))
        invalid(n, "int bits must be 2 to 8, not " + std::to_string(bits));
    if (fp8 && bits != 8)
        invalid(n, "fp8 formats have 8 bits");
    if (format == QuantFormat::Ternary && bits != 2)
        invalid(n, "ternary codes take 2 bits (1.58 of information)");
    if (granularity == Granularity::Token)
        invalid(n,
            "per-token granularity applies to activations (the consumer computes it at run time), not to "
            "stored weights");
    if (granularity == Granularity::Group && groupSize <= 0)
        invalid(n, "group granularity needs a positive group size");
    if (granularity != Granularity::Group && groupSize != 0)
        invalid(n, "a group size only applies to group granularity");
    if (axis < 0)
        invalid(n, "the channel axis must not be negative");
    if (fp8 && !symmetric)
        invalid(n, "fp8 quantization is symmetric");
    if (fp8 && rounding == Rounding::Stochastic)
        invalid(n, "stochastic rounding is available for int formats only");
    if (format == QuantFormat::Fp8E4M3 && !(fp8Max > 0 && fp8Max <= 448.0))
        invalid(n, "fp8 e4m3 max must be in (0, 448] (448 OCP, 240 Neuron)");
    if (format == QuantFormat::Fp8E5M2 && !(fp8Max > 0 && fp8Max <= 57344.0))
        invalid(n, "fp8 e5m2 max must be in (0, 57344]");
    if (!symmetric && (convention == ScaleConvention::Nxd || convention == ScaleConvention::FmsMo))
        invalid(n, std::string(conventionName(convention)) + " quantizes symmetrically");
    if (clipping == Clipping::Percentile && !(percentile > 0 && percentile <= 100))
        invalid(n, "the clipping percentile must be in (0, 100]");
    if (clipping == Clipping::Sawb && !(format == QuantFormat::Int && bits == 8))
        invalid(n, "SAWB clipping is defined for int8");
    if (recomputeNarrowWeights && !(convention == ScaleConvention::FmsMo && format == QuantFormat::Int && bits == 8))
        invalid(n, "narrow-weight recomputation is part of the fms-mo int8 flow (convention fms-mo, int8)");
    if (!(narrowStdThreshold > 0))
        invalid(n, "the narrow-weight std threshold must be positive");
    if (nanogptQuirks && convention != ScaleConvention::NanoGpt)
        invalid(n, "nanoGPT quirks only apply to the nanogpt convention");
    if (weightDtypeMath && convention != ScaleConvention::CompressedTensors)
        invalid(n, "weight-dtype math is how llm-compressor computes; it applies to the compressed-tensors convention");
    const auto& modes = activationModes();
    if (std::find(modes.begin(), modes.end(), activations) == modes.end()) {
        std::string known;
        for (const auto& m : modes)
            known += (known.empty() ? "" : ", ") + m;
        invalid(n, "activations '" + activations + "' is not a mode (" + known + ")");
    }
    if (clipping != Clipping::AbsMax && !symmetric)
        invalid(n, std::string(clippingName(clipping)) + " clipping is implemented for symmetric schemes only");
}

int QuantScheme::qmin() const
{
    if (format == QuantFormat::Ternary)
        return -1;
    if (format != QuantFormat::Int)
        return 0;
    return convention == ScaleConvention::FmsMo ? -((1 << (bits - 1)) - 1) : -(1 << (bits - 1));
}

int QuantScheme::qmax() const
{
    if (format == QuantFormat::Ternary)
        return 1;
    return format == QuantFormat::Int ? (1 << (bits - 1)) - 1 : 0;
}

const std::vector<std::string>& activationModes()
{
    static const std::vector<std::string> modes { "none", "int8-token-dynamic", "fp8-token-dynamic",
        "int8-tensor-static", "fp8-tensor-static", "int4-token-dynamic" };
    return modes;
}

bool isStaticActivations(std::string_view mode)
{
    return mode == "int8-tensor-static" || mode == "fp8-tensor-static";
}

const std::vector<QuantScheme>& schemePresets()
{
    static const std::vector<QuantScheme> presets = makePresets();
    return presets;
}

std::optional<QuantScheme> findSchemePreset(std::string_view name)
{
    for (const auto& s : schemePresets()) {
        if (s.name == name)
            return s;
    }
    return std::nullopt;
}

std::string_view formatName(QuantFormat v)
{
    return nameOf(kFormats, v);
}
std::string_view granularityName(Granularity v)
{
    return nameOf(kGranularities, v);
}
std::string_view roundingName(Rounding v)
{
    return nameOf(kRoundings, v);
}
std::string_view clippingName(Clipping v)
{
    return nameOf(kClippings, v);
}
std::string_view conventionName(ScaleConvention v)
{
    return nameOf(kConventions, v);
}
std::optional<QuantFormat> quantFormatFromName(std::string_view n)
{
    return fromName(kFormats, n);
}
std::optional<Granularity> granularityFromName(std::string_view n)
{
    return fromName(kGranularities, n);
}
std::optional<Rounding> roundingFromName(std::string_view n)
{
    return fromName(kRoundings, n);
}
std::optional<Clipping> clippingFromName(std::string_view n)
{
    return fromName(kClippings, n);
}
std::optional<ScaleConvention> conventionFromName(std::string_view n)
{
    return fromName(kConventions, n);
}

nlohmann::ordered_json schemeToJson(const QuantScheme& s)
{
    nlohmann::ordered_json j;
    j["name"] = s.name;
    j["description"] = s.description;
    j["format"] = formatName(s.format);
    j["bits"] = s.bits;
    j["symmetric"] = s.symmetric;
    j["granularity"] = granularityName(s.granularity);
    j["axis"] = s.axis;
    j["group_size"] = s.groupSize;
    j["rounding"] = roundingName(s.rounding);
    j["seed"] = s.seed;
    j["clipping"] = clippingName(s.clipping);
    j["percentile"] = s.percentile;
    j["fp8_max"] = s.fp8Max;
    j["convention"] = conventionName(s.convention);
    j["recompute_narrow_weights"] = s.recomputeNarrowWeights;
    j["narrow_std_threshold"] = s.narrowStdThreshold;
    j["activations"] = s.activations;
    j["nanogpt_quirks"] = s.nanogptQuirks;
    j["weight_dtype_math"] = s.weightDtypeMath;
    return j;
}

QuantScheme schemeFromJson(const nlohmann::ordered_json& j, const QuantScheme& base)
{
    if (!j.is_object())
        throw UsageError("a scheme must be a JSON object");
    QuantScheme s = base;
    for (const auto& item : j.items()) {
        // Named references, not a structured binding: the lambdas below capture them (C++17).
        const std::string& key = item.key();
        const nlohmann::ordered_json& value = item.value();
        auto text = [&, k = key](auto parse, const auto& table) {
            const auto parsed = value.is_string() ? parse(value.template get<std::string>()) : std::nullopt;
            if (!parsed)
                throw UsageError("scheme field '" + k + "' must be one of: " + choices(table));
            return *parsed;
        };
        auto number = [&, k = key]() {
            if (!value.is_number())
                throw UsageError("scheme field '" + k + "' must be a number");
            return value.get<double>();
        };
        auto integer = [&, k = key]() {
            if (!value.is_number_integer())
                throw UsageError("scheme field '" + k + "' must be an integer");
            return value.get<std::int64_t>();
        };
        auto boolean = [&, k = key]() {
            if (!value.is_boolean())
                throw UsageError("scheme field '" + k + "' must be true or false");
            return value.get<bool>();
        };
        if (key == "name" || key == "description" || key == "activations") {
            if (!value.is_string())
                throw UsageError("scheme field '" + key + "' must be a string");
            (key == "name" ? s.name : key == "description" ? s.description : s.activations) = value.get<std::string>();
        } else if (key == "format") {
            s.format = text(quantFormatFromName, kFormats);
        } else if (key == "granularity") {
            s.granularity = text(granularityFromName, kGranularities);
        } else if (key == "rounding") {
            s.rounding = text(roundingFromName, kRoundings);
        } else if (key == "clipping") {
            s.clipping = text(clippingFromName, kClippings);
        } else if (key == "convention") {
            s.convention = text(conventionFromName, kConventions);
        } else if (key == "bits") {
            s.bits = static_cast<int>(integer());
        } else if (key == "axis") {
            s.axis = static_cast<int>(integer());
        } else if (key == "group_size") {
            s.groupSize = static_cast<int>(integer());
        } else if (key == "seed") {
            s.seed = static_cast<std::uint64_t>(integer());
        } else if (key == "percentile") {
            s.percentile = number();
        } else if (key == "fp8_max") {
            s.fp8Max = number();
        } else if (key == "narrow_std_threshold") {
            s.narrowStdThreshold = number();
        } else if (key == "symmetric") {
            s.symmetric = boolean();
        } else if (key == "recompute_narrow_weights") {
            s.recomputeNarrowWeights = boolean();
        } else if (key == "nanogpt_quirks") {
            s.nanogptQuirks = boolean();
        } else if (key == "weight_dtype_math") {
            s.weightDtypeMath = boolean();
        } else {
            throw UsageError("unknown scheme field '" + key + "'");
        }
    }
    return s;
}

} // namespace qs
