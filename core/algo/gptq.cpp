// SPDX-License-Identifier: GPL-3.0-or-later
#include "algo/gptq.h"

#include "error.h"

#include <ATen/ATen.h>

#include <cmath>

namespace qs {

const char* gptqActOrderName(GptqActOrder order)
{
    switch (order) {
    case GptqActOrder::Group:
        return "group";
    case GptqActOrder::None:
        return "none";
    case GptqActOrder::Static:
        break;
    }
    return "static";
}

GptqActOrder gptqActOrderFromName(const std::string& name)
{
    if (name == "static" || name == "weight")
        return GptqActOrder::Static;
    if (name == "group" || name == "dynamic")
        return GptqActOrder::Group;
    if (name == "none")
        return GptqActOrder::None;
    throw UsageError("unknown GPTQ activation order '" + name + "'; orders: static (weight), group (dynamic), none");
}

HessianAccumulator::HessianAccumulator(std::int64_t features)
    : m_sum(at::zeros({ features, features }, at::kFloat))
{
}

void HessianAccumulator::add(const at::Tensor& input)
{
    const at::Tensor x = input.reshape({ -1, m_sum.size(0) }).to(at::kFloat);
    m_sum.addmm_(x.t(), x, 1.0, 2.0); // += 2 x^T x
    ++m_sequences;
}

at::Tensor HessianAccumulator::hessian() const
{
    if (m_sequences == 0)
        throw UsageError("GPTQ needs the module's inputs: no calibration sample reached it");
    return m_sum / static_cast<double>(m_sequences);
}

namespace {

void checkScheme(const QuantScheme& s)
{
    if (s.format != QuantFormat::Int)
        throw UsageError("GPTQ quantizes to integers; scheme '" + s.name + "' is not an int scheme");
    if (s.rounding != Rounding::NearestEven)
        throw UsageError("GPTQ rounds to nearest; scheme '" + s.name + "' asks for another rounding");
    if (s.granularity != Granularity::Tensor && s.granularity != Granularity::Channel
        && s.granularity != Granularity::Group)
        throw UsageError("GPTQ needs per-tensor, per-channel or per-group weight scales");
    if (s.axis != 0)
        throw UsageError("GPTQ quantizes along the output channels (axis 0)");
}

// Scales and zero points per (row, scale column) of the weight in the loop's column order.
struct ColumnScales
{
    at::Tensor scale; // [rows, units] float32
    at::Tensor zero; // [rows, units] float32 (zeros when symmetric)
    at::Tensor unit; // [cols] long: the unit of each column in loop order
};

ColumnScales scalesOf(const SchemeQuantized& q, std::int64_t rows)
{
    ColumnScales c;
    c.scale = q.scale.dim() == 0 ? q.scale.reshape({ 1, 1 }).expand({ rows, 1 }).contiguous()
                                 : q.scale.reshape({ rows, -1 }).contiguous();
    c.zero = q.zeroPoint.defined() ? q.zeroPoint.reshape(c.scale.sizes()).to(at::kFloat).contiguous()
                                   : at::zeros_like(c.scale);
    return c;
}

QuantizeOptions plainOptions()
{
    QuantizeOptions o;
    o.errorMetrics = false;
    o.codeHistogram = false;
    return o;
}

// What the loop needs: the permuted weight and Hessian and the scale of each column.
struct Problem
{
    at::Tensor w; // [rows, cols], loop order
    at::Tensor h; // [cols, cols], loop order
    at::Tensor perm; // loop position -> storage column (undefined: identity)
    SchemeQuantized observed; // the scheme's quantizer on the (permuted for Group) weight
    ColumnScales scales;
};

Problem prepare(const at::Tensor& weight, const at::Tensor& hessian, const QuantScheme& scheme, const GptqOptions& o)
{
    Problem p;
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    const std::int64_t rows = w.size(0), cols = w.size(1);
    p.w = w.clone();
    p.h = hessian.to(at::kFloat).clone();
    if (o.actOrder != GptqActOrder::None) {
        p.perm = at::argsort(at::diagonal(p.h), 0, true);
        p.w = p.w.index_select(1, p.perm);
        p.h = p.h.index_select(0, p.perm).index_select(1, p.perm);
    }
    // Group order: the groups are contiguous in loop order, so observe the permuted weight.
    const bool loopGroups = o.actOrder == GptqActOrder::Group || (!o.staticGroups && p.perm.defined());
    p.observed = quantizeWithScheme(loopGroups ? p.w : w, scheme, plainOptions());
    p.scales = scalesOf(p.observed, rows);
    const at::Tensor positions = at::arange(cols, at::kLong);
    at::Tensor unit;
    if (scheme.granularity == Granularity::Group)
        unit = at::div(positions, scheme.groupSize, "floor");
    else
        unit = at::zeros({ cols }, at::kLong);
    // Static order: each loop position keeps its storage column's group.
    p.scales.unit = loopGroups || !p.perm.defined() ? unit : unit.index_select(0, p.perm);
    return p;
}

// The upper Cholesky factor of H^-1, H dampened; undefined when H is not positive definite.
at::Tensor inverseFactor(const at::Tensor& h, double dampening)
{
    const double damp = dampening * at::diagonal(h).mean().item<double>();
    const at::Tensor dampened = h + at::eye(h.size(0), h.options()) * damp;
    const auto [lower, info] = at::linalg_cholesky_ex(dampened);
    if (info.item<std::int64_t>() != 0)
        return {};
    const auto [upper, info2] = at::linalg_cholesky_ex(at::cholesky_inverse(lower), true);
    return info2.item<std::int64_t>() != 0 ? at::Tensor() : upper;
}

} // namespace

GptqResult gptqQuantize(
    const at::Tensor& weight, const at::Tensor& hessian, const QuantScheme& scheme, const GptqOptions& o)
{
    checkScheme(scheme);
    if (weight.dim() != 2 || hessian.dim() != 2 || hessian.size(0) != weight.size(1) || hessian.size(1) != weight.size(1))
        throw UsageError("GPTQ needs a [out, in] weight and an [in, in] Hessian");
    if (o.blockSize < 1 || !(o.dampening >= 0))
        throw UsageError("GPTQ needs a block size of at least 1 and a dampening of at least 0");
    Problem p = prepare(weight, hessian, scheme, o);
    const std::int64_t rows = p.w.size(0), cols = p.w.size(1);
    const auto qmin = static_cast<double>(scheme.qmin()), qmax = static_cast<double>(scheme.qmax());

    // Dead inputs: nothing to calibrate on; their weights contribute nothing.
    const at::Tensor dead = at::diagonal(p.h) == 0;
    if (dead.any().item<bool>()) {
        p.h.diagonal().masked_fill_(dead, 1.0);
        p.w.masked_fill_(dead.unsqueeze(0).expand_as(p.w), 0.0);
    }
    GptqResult r;
    r.dampening = o.dampening;
    at::Tensor hinv = inverseFactor(p.h, r.dampening);
    while (!hinv.defined() && o.dampeningIncrement > 0 && r.dampening + o.dampeningIncrement < 1) {
        r.dampening += o.dampeningIncrement;
        hinv = inverseFactor(p.h, r.dampening);
    }
    if (!hinv.defined()) {
        r.roundToNearest = true;
        r.warning = "the Hessian is not positive definite even with dampening "
            + std::to_string(r.dampening) + ": the module is rounded to nearest";
        hinv = at::eye(cols, at::kFloat);
    }

    const ColumnScales& cs = p.scales;
    const std::int64_t groupSize = scheme.granularity == Granularity::Group ? scheme.groupSize : cols;
    auto quantizeColumn = [&](const at::Tensor& w, std::int64_t j) {
        const std::int64_t u = cs.unit[j].item<std::int64_t>();
        const at::Tensor s = cs.scale.select(1, u);
        const at::Tensor z = cs.zero.select(1, u);
        return (at::clamp(at::round(w / s) + z, qmin, qmax) - z) * s;
    };
    at::Tensor q = at::zeros_like(p.w);
    double loss = 0;
    for (std::int64_t i1 = 0; i1 < cols; i1 += o.blockSize) {
        o.cancel.throwIfCancelled();
        const std::int64_t i2 = std::min(i1 + o.blockSize, cols);
        const std::int64_t count = i2 - i1;
        at::Tensor w1 = p.w.slice(1, i1, i2).clone();
        at::Tensor err1 = at::zeros({ rows, count }, at::kFloat);
        const at::Tensor hinv1 = hinv.slice(0, i1, i2).slice(1, i1, i2);
        for (std::int64_t i = 0; i < count; ++i) {
            const std::int64_t j = i1 + i;
            if (!o.staticGroups && scheme.granularity == Granularity::Group && j % groupSize == 0) {
                // The reference GPTQ: this group's scales from the weight as updated so far.
                QuantScheme channel = scheme;
                channel.granularity = Granularity::Channel;
                channel.groupSize = 0;
                const SchemeQuantized g = quantizeWithScheme(
                    p.w.slice(1, j, std::min(j + groupSize, cols)).contiguous(), channel, plainOptions());
                const ColumnScales gs = scalesOf(g, rows);
                const std::int64_t u = cs.unit[j].item<std::int64_t>();
                cs.scale.select(1, u).copy_(gs.scale.select(1, 0));
                cs.zero.select(1, u).copy_(gs.zero.select(1, 0));
            }
            const at::Tensor w = w1.select(1, i);
            const double d = hinv1[i][i].item<double>();
            const at::Tensor qc = quantizeColumn(w, j);
            q.select(1, j).copy_(qc);
            const at::Tensor e = (w - qc) / d;
            loss += e.pow(2).sum(at::kDouble).item<double>() / 2;
            w1.slice(1, i).sub_(at::outer(e, hinv1[i].slice(0, i)));
            err1.select(1, i).copy_(e);
        }
        if (i2 < cols)
            p.w.slice(1, i2).sub_(at::matmul(err1, hinv.slice(0, i1, i2).slice(1, i2)));
    }
    r.loss = loss;

    // Back to storage order, and the codes of the result with the scales it used.
    if (p.perm.defined()) {
        const at::Tensor inverse = at::argsort(p.perm);
        q = q.index_select(1, inverse);
        if (o.actOrder == GptqActOrder::Group || !o.staticGroups)
            r.groupIndex = cs.unit.index_select(0, inverse).to(at::kInt);
    }
    const at::Tensor unit = r.groupIndex.defined() ? r.groupIndex.to(at::kLong)
        : scheme.granularity == Granularity::Group ? at::div(at::arange(cols, at::kLong), groupSize, "floor")
                                                   : at::zeros({ cols }, at::kLong);
    const at::Tensor s = cs.scale.index_select(1, unit);
    const at::Tensor z = cs.zero.index_select(1, unit);
    r.weight = q.contiguous();
    r.quantized = std::move(p.observed);
    r.quantized.codes = at::clamp(at::round(q / s) + z, qmin, qmax).to(at::kChar).contiguous();
    r.quantized.scale = scheme.granularity == Granularity::Tensor ? cs.scale[0][0].clone() : cs.scale.clone();
    if (r.quantized.zeroPoint.defined())
        r.quantized.zeroPoint = cs.zero.reshape(r.quantized.scale.sizes()).clone();
    return r;
}

} // namespace qs
