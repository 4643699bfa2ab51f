// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/fork_scheme.h"

#include "error.h"
#include "io/checkpoint.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>

namespace qs {
namespace {

struct Codes
{
    at::Tensor codes; // float32 holding integers
    double scale = 0;
};

// quantize.py's symmetric_quant, affine_quant and ternary_quant in float32, as PyTorch runs
// them (torch.round rounds half to even, as at::round does).
Codes forkQuantize(const at::Tensor& w, const std::string& method, int bits)
{
    const double bitMax = std::ldexp(1.0, bits - 1) - 1;
    const double bitMin = -bitMax - 1;
    if (method == "symmetric_quant") {
        const at::Tensor scale = w.abs().max() / bitMax;
        return { (w / scale).round().clamp(bitMin, bitMax), scale.item<double>() };
    }
    if (method == "affine_quant") {
        const at::Tensor scale = (w.max() - w.min()) / (std::ldexp(1.0, bits) - 1);
        const at::Tensor zp = -(w.min() / scale).round() + bitMin;
        return { ((w / scale).round() + zp).clamp(bitMin, bitMax), scale.item<double>() };
    }
    const at::Tensor scale = w.abs().mean().clamp_min(1e-5); // ternary_quant
    return { (w / scale).round().clamp(-1, 1), scale.item<double>() };
}

std::string percent(double fraction)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.2f%%", 100.0 * fraction);
    return buffer;
}

bool isPowerOfTwo(std::int64_t v)
{
    return v > 0 && (v & (v - 1)) == 0;
}

int log2Of(std::int64_t v)
{
    int b = 0;
    while ((std::int64_t(1) << b) < v)
        ++b;
    return b;
}

struct CodeRange
{
    std::int64_t lo = 0;
    std::int64_t hi = 0;
    std::int64_t zeroPoint = 0;
    double zeroFraction = 0;
};

// The candidates the codes allow, most likely first.
std::vector<ForkSchemeGuess> candidatesOf(const CodeRange& r)
{
    std::vector<ForkSchemeGuess> out;
    const std::int64_t magnitude = std::max(-r.lo, r.hi);
    if (r.lo >= -1 && r.hi <= 1 && r.zeroPoint == 0) {
        // Ternary keeps most weights at +-1 (its scale is the mean magnitude); symmetric 2-bit
        // sends most to 0 (its scale is the abs-max).
        ForkSchemeGuess t { "ternary_quant", 2, {}, false };
        ForkSchemeGuess s { "symmetric_quant", 2, {}, false };
        if (r.zeroFraction < 0.6)
            out = { t, s };
        else
            out = { s, t };
        return out;
    }
    if (isPowerOfTwo(r.hi + 1) && r.lo == -(r.hi + 1))
        out.push_back({ "affine_quant", log2Of(r.hi + 1) + 1, {}, false });
    if (r.zeroPoint == 0 && isPowerOfTwo(magnitude + 1) && r.lo >= -magnitude) {
        const int k = log2Of(magnitude + 1);
        out.push_back({ "symmetric_quant", k + 1, {}, false });
        out.push_back({ "stochastic_quant", k, {}, false });
    }
    if (out.empty() && r.zeroPoint != 0)
        out.push_back({ "affine_quant", log2Of(r.hi - r.lo + 1), {}, false });
    return out;
}

std::string rangeText(const CodeRange& r)
{
    return "codes " + std::to_string(r.lo) + ".." + std::to_string(r.hi) + ", zero point "
        + std::to_string(r.zeroPoint);
}

} // namespace

std::string ForkSchemeGuess::describe() const
{
    if (method.empty())
        return "unknown";
    return method + " " + std::to_string(bits) + "-bit, per tensor";
}

static ForkSchemeGuess inferForkSchemeOf(const Checkpoint& c, const std::string& codesTensor);

ForkSchemeGuess inferForkScheme(const Checkpoint& c, const std::string& codesTensor)
{
    ForkSchemeGuess g = inferForkSchemeOf(c, codesTensor);
    if (g.wrappedCodes > 0)
        g.basis += "; the fork's own dequantize() subtracts the zero point in the codes' integer type and wraps "
            + std::to_string(g.wrappedCodes) + " of these codes around (QuantScope does not)";
    return g;
}

static ForkSchemeGuess inferForkSchemeOf(const Checkpoint& c, const std::string& codesTensor)
{
    const QuantizationInfo& q = c.quantization();
    const auto recipe = q.recipes.find(codesTensor);
    if (q.kind != "nanogpt-fork" || recipe == q.recipes.end())
        throw UsageError("not a tensor of the nanoGPT fork's stored codes", ErrorContext { c.path().string(), codesTensor, {} });
    const at::Tensor codes = c.loadFloat(codesTensor);
    CodeRange range;
    if (codes.numel() > 0) {
        range.lo = static_cast<std::int64_t>(codes.min().item<double>());
        range.hi = static_cast<std::int64_t>(codes.max().item<double>());
        range.zeroFraction = codes.eq(0).to(at::kDouble).mean().item<double>();
    }
    if (!recipe->second.zeroPoint.empty())
        range.zeroPoint = static_cast<std::int64_t>(c.loadFloat(recipe->second.zeroPoint).reshape({ -1 })[0].item<double>());
    const double storedScale = c.loadFloat(recipe->second.scale).reshape({ -1 })[0].item<double>();
    std::int64_t wrapped = 0;
    if (range.zeroPoint != 0 && codes.numel() > 0) {
        const double top = std::ldexp(1.0, 8 * static_cast<int>(dtypeSize(c.info(codesTensor).dtype)) - 1);
        const at::Tensor shifted = codes.to(at::kDouble) - static_cast<double>(range.zeroPoint);
        wrapped = shifted.lt(-top).logical_or(shifted.ge(top)).sum().item<std::int64_t>();
    }
    std::vector<ForkSchemeGuess> candidates = candidatesOf(range);
    for (ForkSchemeGuess& g : candidates)
        g.wrappedCodes = wrapped;

    std::string floatTensor;
    for (const auto& [f, stored] : q.storedCodes) {
        if (stored == codesTensor)
            floatTensor = f;
    }
    if (!floatTensor.empty() && codes.numel() > 0) {
        const at::Tensor w = c.loadFloat(floatTensor);
        if (w.sizes() == codes.sizes()) {
            for (ForkSchemeGuess g : candidates) {
                if (g.method == "stochastic_quant")
                    continue;
                const Codes re = forkQuantize(w, g.method, g.bits);
                const double agree = re.codes.eq(codes).to(at::kDouble).mean().item<double>();
                const bool sameScale = std::fabs(re.scale - storedScale) <= 1e-6 * std::fabs(storedScale);
                if (agree >= 0.999 && sameScale) {
                    g.verified = true;
                    g.basis = "recomputed from " + floatTensor + ": " + g.method + " with " + std::to_string(g.bits)
                        + " bits gives the stored scale and " + percent(agree) + " of the codes";
                    return g;
                }
            }
            // Stochastic rounding: every code within one step of w / scale, but not the nearest.
            const at::Tensor distance = (w / storedScale).abs() - codes.abs();
            for (ForkSchemeGuess g : candidates) {
                if (g.method == "stochastic_quant" && distance.gt(-1).logical_and(distance.lt(1)).all().item<bool>()) {
                    g.basis = "the codes are within one step of " + floatTensor
                        + " / weight_norm but not its rounding (stochastic rounding), " + rangeText(range);
                    return g;
                }
            }
            return { {}, 0,
                "no fork quantizer recomputed from " + floatTensor + " gives the stored codes (" + rangeText(range) + ")",
                false, wrapped };
        }
    }
    if (candidates.empty())
        return { {}, 0, "the code range fits none of the fork's quantizers (" + rangeText(range) + ")", false, wrapped };
    ForkSchemeGuess g = candidates.front();
    g.basis = "from the codes alone (" + rangeText(range) + ")";
    if (g.method == "symmetric_quant" && candidates.size() > 1 && candidates[1].method == "stochastic_quant")
        g.basis += "; stochastic_quant with " + std::to_string(g.bits - 1)
            + " bits gives the same range, and without the float weight the two cannot be told apart";
    else if (g.method == "ternary_quant" || (g.method == "symmetric_quant" && g.bits == 2))
        g.basis += "; " + percent(range.zeroFraction) + " zeros (ternary keeps most weights at +-1)";
    return g;
}

} // namespace qs
