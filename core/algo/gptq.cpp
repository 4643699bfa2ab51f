// SPDX-License-Identifier: GPL-3.0-or-later
#include "algo/gptq.h"

#include "algo/dense_kernels.h"
#include "error.h"

#include <ATen/ATen.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

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
    // += 2 x^T x, in the lower triangle (symmetric: half the work of a matrix product)
    addGramLower(m_sum, input.reshape({ -1, m_sum.size(0) }), 2.0);
    ++m_sequences;
}

at::Tensor HessianAccumulator::hessian() const
{
    if (m_sequences == 0)
        throw UsageError("GPTQ needs the module's inputs: no calibration sample reached it");
    return symmetrizedFromLower(m_sum).div_(static_cast<double>(m_sequences));
}

void checkGptqScheme(const QuantScheme& s)
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

namespace {

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

// What the loop needs: the permuted weight (transposed, so that a column is a contiguous row) and
// Hessian, and the scale of each column.
struct Problem
{
    at::Tensor wt; // [cols, rows], loop order
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
    p.h = hessian.to(at::kFloat);
    if (o.actOrder != GptqActOrder::None) {
        p.perm = at::argsort(at::diagonal(p.h), 0, true);
        p.wt = w.t().index_select(0, p.perm); // gathers rows of the transpose: contiguous [cols, rows]
        p.h = p.h.index_select(0, p.perm).index_select(1, p.perm);
    } else {
        p.wt = w.t().contiguous();
        p.h = p.h.clone();
    }
    // Group order: the groups are contiguous in loop order, so observe the permuted weight.
    const bool loopGroups = o.actOrder == GptqActOrder::Group || (!o.staticGroups && p.perm.defined());
    p.observed = quantizeWithScheme(loopGroups ? p.wt.t().contiguous() : w, scheme, plainOptions());
    p.observed.codes = at::Tensor(); // GPTQ's own codes replace these
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

// The upper Cholesky factor of H^-1, H dampened, as the reference computes it (chol(H), H^-1 from
// it, chol(H^-1)); undefined when H is not positive definite. (A triangular inverse of the
// reversed factor would do half the work, but its rounding differs, and GPTQ's rounding
// decisions amplify the difference: the reference's path keeps the codes llm-compressor's.)
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

// The reference GPTQ's groups: each group's scales from the weight as the earlier blocks left it,
// for the groups that start in [i1, i2).
void recomputeGroups(Problem& p, const QuantScheme& scheme, std::int64_t i1, std::int64_t i2, std::int64_t groupSize)
{
    const std::int64_t cols = p.wt.size(0);
    QuantScheme channel = scheme;
    channel.granularity = Granularity::Channel;
    channel.groupSize = 0;
    for (std::int64_t j = (i1 + groupSize - 1) / groupSize * groupSize; j < i2; j += groupSize) {
        const SchemeQuantized g = quantizeWithScheme(
            p.wt.slice(0, j, std::min(j + groupSize, cols)).t().contiguous(), channel, plainOptions());
        const ColumnScales gs = scalesOf(g, p.wt.size(1));
        const std::int64_t u = p.scales.unit[j].item<std::int64_t>();
        p.scales.scale.select(1, u).copy_(gs.scale.select(1, 0));
        p.scales.zero.select(1, u).copy_(gs.zero.select(1, 0));
    }
}

// Round half to even for |x| < 2^22 in the default rounding mode, without a library call (so the
// loop vectorises); larger values stay large and are clamped to the code range after.
inline float roundHalfEven(float x)
{
    constexpr float kMagic = 12582912.0F; // 1.5 * 2^23
    return x >= 0 ? (x + kMagic) - kMagic : (x - kMagic) + kMagic;
}

// One block of columns, transposed: w1/err1/q/codes [count, rows] (slices of the whole), hinv1
// [count, count].
struct BlockLoop
{
    at::Tensor w1, err1, q, codes, hinv1, scale, zero; // scale/zero [units, rows]
    const std::vector<std::int64_t>& units;
    std::int64_t first, rows;
    double qmin, qmax;
};

// Every row of the weight goes through the block on its own (the updates never mix rows), so
// the rows are split over threads; within a row the columns run in order, each quantized with
// its scale, its error divided by Hinv_ii and spread over the block's later columns.
double runBlock(BlockLoop& b)
{
    const std::int64_t count = b.w1.size(0), rows = b.rows;
    float* w = b.w1.data_ptr<float>();
    float* err = b.err1.data_ptr<float>();
    float* q = b.q.data_ptr<float>(); // a slice of rows of a contiguous [cols, rows]
    std::int8_t* codes = b.codes.data_ptr<std::int8_t>();
    const float* h = b.hinv1.data_ptr<float>();
    const float* scale = b.scale.data_ptr<float>();
    const float* zero = b.zero.data_ptr<float>();
    const auto qmin = static_cast<float>(b.qmin), qmax = static_cast<float>(b.qmax);
    std::vector<double> losses(static_cast<std::size_t>(at::get_num_threads()) + 1, 0.0);
    at::parallel_for(0, rows, 64, [&](std::int64_t r0, std::int64_t r1) {
        double loss = 0;
        for (std::int64_t i = 0; i < count; ++i) {
            const std::int64_t u = b.units[static_cast<std::size_t>(b.first + i)];
            const float* s = scale + u * rows;
            const float* z = zero + u * rows;
            const float d = h[i * count + i];
            float* wi = w + i * rows;
            float* ei = err + i * rows;
            float* qi = q + i * rows;
            std::int8_t* ci = codes + i * rows;
            float rowLoss = 0;
            for (std::int64_t r = r0; r < r1; ++r) {
                const float code = std::min(std::max(roundHalfEven(wi[r] / s[r]) + z[r], qmin), qmax);
                ci[r] = static_cast<std::int8_t>(code);
                const float deq = (code - z[r]) * s[r];
                qi[r] = deq;
                const float e = (wi[r] - deq) / d;
                ei[r] = e;
                rowLoss += e * e;
            }
            loss += rowLoss;
            for (std::int64_t k = i + 1; k < count; ++k) {
                const float hk = h[i * count + k];
                float* wk = w + k * rows;
                for (std::int64_t r = r0; r < r1; ++r)
                    wk[r] -= hk * ei[r];
            }
        }
        losses[static_cast<std::size_t>(at::get_thread_num())] += loss;
    });
    double total = 0;
    for (double l : losses)
        total += l;
    return total / 2;
}

} // namespace

GptqResult gptqQuantize(
    const at::Tensor& weight, const at::Tensor& hessian, const QuantScheme& scheme, const GptqOptions& o)
{
    checkGptqScheme(scheme);
    if (weight.dim() != 2 || hessian.dim() != 2 || hessian.size(0) != weight.size(1) || hessian.size(1) != weight.size(1))
        throw UsageError("GPTQ needs a [out, in] weight and an [in, in] Hessian");
    if (o.blockSize < 1 || !(o.dampening >= 0))
        throw UsageError("GPTQ needs a block size of at least 1 and a dampening of at least 0");
    Problem p = prepare(weight, hessian, scheme, o);
    const std::int64_t cols = p.wt.size(0), rows = p.wt.size(1);
    const auto qmin = static_cast<double>(scheme.qmin()), qmax = static_cast<double>(scheme.qmax());

    // Dead inputs: nothing to calibrate on; their weights contribute nothing.
    const at::Tensor dead = at::diagonal(p.h) == 0;
    if (dead.any().item<bool>()) {
        p.h.diagonal().masked_fill_(dead, 1.0);
        p.wt.masked_fill_(dead.unsqueeze(1).expand_as(p.wt), 0.0);
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

    ColumnScales& cs = p.scales;
    const std::int64_t groupSize = scheme.granularity == Granularity::Group ? scheme.groupSize : cols;
    const at::Tensor unitTensor = cs.unit.contiguous();
    const std::vector<std::int64_t> units(unitTensor.data_ptr<std::int64_t>(), unitTensor.data_ptr<std::int64_t>() + cols);
    // Transposed: a column is a contiguous row, so every inner loop and the update are contiguous.
    at::Tensor q = at::empty({ cols, rows }, at::kFloat);
    at::Tensor codes = at::empty({ cols, rows }, at::kChar);
    at::Tensor err1 = at::empty({ std::min<std::int64_t>(o.blockSize, cols), rows }, at::kFloat);
    at::Tensor scaleT = cs.scale.t().contiguous(), zeroT = cs.zero.t().contiguous(); // [units, rows]
    double loss = 0;
    for (std::int64_t i1 = 0; i1 < cols; i1 += o.blockSize) {
        o.cancel.throwIfCancelled();
        const std::int64_t i2 = std::min(i1 + o.blockSize, cols);
        if (!o.staticGroups && scheme.granularity == Granularity::Group) {
            recomputeGroups(p, scheme, i1, i2, groupSize);
            scaleT = cs.scale.t().contiguous();
            zeroT = cs.zero.t().contiguous();
        }
        at::Tensor e = err1.slice(0, 0, i2 - i1);
        const at::Tensor hinv1 = hinv.slice(0, i1, i2).slice(1, i1, i2).contiguous();
        BlockLoop loop { p.wt.slice(0, i1, i2), e, q.slice(0, i1, i2), codes.slice(0, i1, i2), hinv1, scaleT, zeroT,
            units, i1, rows, qmin, qmax };
        loss += runBlock(loop);
        // W[:, i2:] -= Err1 Hinv[i1:i2, i2:], transposed.
        if (i2 < cols)
            p.wt.slice(0, i2).addmm_(hinv.slice(0, i1, i2).slice(1, i2).t(), e, 1.0, -1.0);
    }
    r.loss = loss;

    // Back to storage order: the result, its codes and the scales they use.
    if (p.perm.defined()) {
        const at::Tensor inverse = at::argsort(p.perm);
        q = q.index_select(0, inverse);
        codes = codes.index_select(0, inverse);
        if (o.actOrder == GptqActOrder::Group || !o.staticGroups)
            r.groupIndex = cs.unit.index_select(0, inverse).to(at::kInt);
    }
    r.weight = q.t().contiguous();
    r.quantized = std::move(p.observed);
    r.quantized.codes = codes.t().contiguous();
    r.quantized.scale = scheme.granularity == Granularity::Tensor ? cs.scale[0][0].clone() : cs.scale.clone();
    if (r.quantized.zeroPoint.defined())
        r.quantized.zeroPoint = cs.zero.reshape(r.quantized.scale.sizes()).clone();
    return r;
}

} // namespace qs
