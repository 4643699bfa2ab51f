// SPDX-License-Identifier: GPL-3.0-or-later
#include "algo/awq.h"

#include "error.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

namespace qs {

std::vector<SmoothQuantMapping> defaultAwqMappings(const std::string& family)
{
    if (family == "llama")
        return { { { "re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$" }, "re:.*input_layernorm$" },
            { { "re:.*o_proj$" }, "re:.*v_proj$" },
            { { "re:.*gate_proj$", "re:.*up_proj$" }, "re:.*post_attention_layernorm$" },
            { { "re:.*down_proj$" }, "re:.*up_proj$" } };
    throw UsageError("AWQ has no default mappings for a " + family + " model; give mappings in a recipe");
}

bool awqMappingFits(std::int64_t smoothOut, std::int64_t balanceIn)
{
    return smoothOut == balanceIn;
}

AwqDuoScaling awqDuoScalingFromName(const std::string& name)
{
    if (name == "true" || name == "True" || name == "on")
        return AwqDuoScaling::On;
    if (name == "false" || name == "False" || name == "off")
        return AwqDuoScaling::Off;
    if (name == "both")
        return AwqDuoScaling::Both;
    throw UsageError("unknown AWQ duo_scaling '" + name + "'; values: true, false, both");
}

std::vector<AwqCandidate> awqGrid(int nGrid, AwqDuoScaling duo)
{
    if (nGrid < 2 || (duo == AwqDuoScaling::Both && nGrid < 4))
        throw UsageError("the AWQ grid needs at least 2 points (4 with duo_scaling both), not " + std::to_string(nGrid));
    std::vector<AwqCandidate> grid;
    switch (duo) {
    case AwqDuoScaling::Both: {
        const int half = nGrid / 2;
        for (int i = 0; i < half; ++i)
            for (bool d : { false, true })
                grid.push_back({ static_cast<double>(i) / (half - 1), d });
        break;
    }
    case AwqDuoScaling::Off:
        for (int i = 0; i < nGrid; ++i)
            grid.push_back({ static_cast<double>(i) / (nGrid - 1), false });
        break;
    case AwqDuoScaling::On:
        grid.push_back({ 0.0, false }); // the identity
        for (int i = 0; i < nGrid - 1; ++i)
            grid.push_back({ static_cast<double>(i) / (nGrid - 2), true });
        break;
    }
    return grid;
}

void ChannelAbsMean::add(const at::Tensor& x)
{
    const at::Tensor rows = x.reshape({ -1, x.size(-1) });
    if (rows.size(0) == 0)
        return;
    const at::Tensor sum = rows.abs().sum(0, false, at::kFloat);
    m_sum = m_sum.defined() ? m_sum + sum : sum;
    m_count += rows.size(0);
}

at::Tensor ChannelAbsMean::mean() const
{
    if (m_count == 0)
        throw UsageError("AWQ needs the balance layers' inputs: no calibration token reached them");
    return m_sum / static_cast<double>(m_count);
}

at::Tensor awqWeightMeans(const std::vector<at::Tensor>& balanceWeights, const QuantScheme& scheme)
{
    if (balanceWeights.empty())
        throw UsageError("AWQ needs at least one balance layer");
    at::Tensor sum;
    std::int64_t rows = 0;
    for (const at::Tensor& weight : balanceWeights) {
        const at::Tensor w = weight.to(at::kFloat).abs();
        std::int64_t chunk = w.numel();
        if (scheme.granularity == Granularity::Channel)
            chunk = w.size(1);
        else if (scheme.granularity == Granularity::Group)
            chunk = scheme.groupSize;
        // A last group shorter than the others (the scheme's quantizer allows one): zero padding
        // changes no maximum of |W|.
        const std::int64_t cols = w.size(1);
        const std::int64_t padded = scheme.granularity == Granularity::Group ? (cols + chunk - 1) / chunk * chunk : cols;
        const at::Tensor full = padded == cols ? w : at::constant_pad_nd(w, { 0, padded - cols });
        const at::Tensor chunks = full.reshape({ -1, chunk });
        const at::Tensor normalised = (chunks / (std::get<0>(chunks.max(1, true)) + 1e-6))
                                          .reshape(full.sizes())
                                          .slice(1, 0, cols);
        const at::Tensor s = normalised.sum(0, false, at::kDouble);
        sum = sum.defined() ? sum + s : s;
        rows += w.size(0);
    }
    return (sum / static_cast<double>(rows)).to(at::kFloat);
}

at::Tensor awqCandidateScales(const at::Tensor& xMean, const at::Tensor& wMean, const AwqCandidate& c)
{
    at::Tensor s;
    if (c.duo)
        s = (at::pow(xMean, c.ratio) / (at::pow(wMean, 1 - c.ratio) + 1e-4)).clamp_min(1e-4);
    else
        s = at::pow(xMean, c.ratio).clamp_min(1e-4);
    s = s / at::sqrt(s.max() * s.min());
    s.masked_fill_(at::isinf(s) | at::isnan(s), 1.0);
    return s.to(at::kFloat);
}

at::Tensor awqScaledQuantized(const at::Tensor& weight, const at::Tensor& scales, const QuantScheme& scheme)
{
    QuantizeOptions o;
    o.errorMetrics = false;
    o.codeHistogram = false;
    const at::Tensor view = scales.reshape({ 1, -1 });
    const at::Tensor scaled = (weight.to(at::kFloat) * view).contiguous();
    return dequantizeScheme(quantizeWithScheme(scaled, scheme, o)).reshape(scaled.sizes()).to(at::kFloat) / view;
}

AwqSearchResult awqSearch(const at::Tensor& xMean, const std::vector<at::Tensor>& balanceWeights,
    const QuantScheme& scheme, const std::vector<AwqCandidate>& grid,
    const std::function<double(const std::vector<at::Tensor>&)>& loss)
{
    at::Tensor wMean;
    for (const AwqCandidate& c : grid) {
        if (c.duo) {
            wMean = awqWeightMeans(balanceWeights, scheme);
            break;
        }
    }
    AwqSearchResult r;
    r.bestLoss = std::numeric_limits<double>::infinity();
    for (const AwqCandidate& c : grid) {
        const at::Tensor s = awqCandidateScales(xMean, wMean, c);
        std::vector<at::Tensor> weights;
        weights.reserve(balanceWeights.size());
        for (const at::Tensor& w : balanceWeights)
            weights.push_back(awqScaledQuantized(w, s, scheme));
        const double l = loss(weights);
        if (r.losses.empty())
            r.initialLoss = l;
        r.losses.push_back(l);
        if (l < r.bestLoss) {
            r.bestLoss = l;
            r.best = c;
            r.scales = s;
        }
    }
    if (!r.scales.defined())
        throw UsageError("AWQ found no finite loss in its grid search: the parent module's output is not finite");
    return r;
}

at::Tensor awqSmoothLayerDivided(const at::Tensor& smoothWeight, const at::Tensor& scales)
{
    const at::Tensor s = scales.to(smoothWeight.scalar_type());
    if (smoothWeight.dim() == 1 && smoothWeight.size(0) == s.size(0))
        return smoothWeight / s;
    if (smoothWeight.dim() == 2 && smoothWeight.size(0) >= s.size(0)) {
        at::Tensor w = smoothWeight.clone();
        w.slice(0, w.size(0) - s.size(0)).div_(s.reshape({ -1, 1 }));
        return w;
    }
    if (smoothWeight.dim() == 1 && smoothWeight.size(0) > s.size(0)) { // a Linear's bias
        at::Tensor b = smoothWeight.clone();
        b.slice(0, b.size(0) - s.size(0)).div_(s);
        return b;
    }
    throw UsageError("AWQ: a smooth layer of shape [" + std::to_string(smoothWeight.size(0)) + (smoothWeight.dim() > 1 ? ", ..." : "")
        + "] cannot take " + std::to_string(s.size(0)) + " scales");
}

at::Tensor awqClip(const at::Tensor& weight, const at::Tensor& inputs, const QuantScheme& scheme,
    const AwqClipOptions& options)
{
    if (weight.dim() != 2 || inputs.dim() != 2 || inputs.size(1) != weight.size(1))
        throw UsageError("AWQ's clip search needs a weight [out, in] and inputs [tokens, in]");
    if (scheme.granularity != Granularity::Channel && scheme.granularity != Granularity::Group)
        throw UsageError("AWQ's clip search clips per output channel or group, and scheme '" + scheme.name
            + "' quantizes per tensor");
    if (options.nGrid < 1 || !(options.maxShrink > 0 && options.maxShrink < 1))
        throw UsageError("AWQ's clip search needs a grid of at least 1 and a shrink in (0, 1)");
    const std::int64_t in = weight.size(1);
    const std::int64_t g = scheme.granularity == Granularity::Group && scheme.groupSize > 0
        ? std::min<std::int64_t>(scheme.groupSize, in)
        : in;
    const std::int64_t groups = (in + g - 1) / g;
    const std::int64_t pad = groups * g - in;
    const std::int64_t stride = std::max<std::int64_t>(1, inputs.size(0) / std::max<std::int64_t>(1, options.sampleTokens));
    at::Tensor x = inputs.to(at::kFloat).slice(0, 0, inputs.size(0), stride);
    if (pad > 0)
        x = at::constant_pad_nd(x, { 0, pad });
    x = x.reshape({ x.size(0), groups, g }).contiguous(); // [t, G, g]
    auto grouped = [&](const at::Tensor& w) { // [r, in] -> [r, G, g]
        return (pad > 0 ? at::constant_pad_nd(w, { 0, pad }) : w).reshape({ w.size(0), groups, g });
    };
    auto partialOutputs = [&](const at::Tensor& w) { return at::einsum("tgk,rgk->rtg", { x, grouped(w) }); };
    QuantizeOptions q;
    q.errorMetrics = false;
    q.codeHistogram = false;
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    at::Tensor out = at::empty_like(w);
    const int shrinks = std::max(1, static_cast<int>(options.maxShrink * options.nGrid));
    const at::Tensor groupOf = at::arange(in, at::kLong).floor_divide(g);
    for (std::int64_t begin = 0; begin < w.size(0); begin += options.rowBatch) {
        const at::Tensor rows = w.slice(0, begin, std::min(w.size(0), begin + options.rowBatch));
        const at::Tensor original = std::get<0>(grouped(rows).abs().max(-1)); // [r, G]
        const at::Tensor reference = partialOutputs(rows);
        at::Tensor best = original.clone();
        at::Tensor lowest = at::full_like(original, std::numeric_limits<float>::infinity());
        for (int i = 0; i < shrinks; ++i) {
            const at::Tensor limit = original * (1.0 - static_cast<double>(i) / options.nGrid);
            const at::Tensor perColumn = limit.index_select(1, groupOf); // [r, in]
            const at::Tensor clamped = at::minimum(at::maximum(rows, -perColumn), perColumn).contiguous();
            const at::Tensor quantized
                = dequantizeScheme(quantizeWithScheme(clamped, scheme, q)).reshape(clamped.sizes()).to(at::kFloat);
            const at::Tensor error = (partialOutputs(quantized) - reference).pow(2).mean(1); // [r, G]
            const at::Tensor better = error < lowest;
            lowest = at::where(better, error, lowest);
            best = at::where(better, limit, best);
        }
        const at::Tensor perColumn = best.index_select(1, groupOf);
        out.slice(0, begin, begin + rows.size(0)).copy_(at::minimum(at::maximum(rows, -perColumn), perColumn));
    }
    return out;
}

} // namespace qs
