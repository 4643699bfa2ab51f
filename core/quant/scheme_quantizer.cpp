// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/scheme_quantizer.h"

#include "error.h"
#include "quant/fp8.h"
#include "quant/kernels/row_kernels.h"
#include "quant/narrow_weights.h"
#include "quant/prefaulted_tensor.h"
#include "quant/row_sweep.h"
#include "quant/scheme_math.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <array>
#include <cfloat>
#include <cmath>
#include <mutex>

namespace qs {
namespace {

using namespace quant_detail;

kernels::QuotientRounding dtypeRounding(at::ScalarType t)
{
    return t == at::kBFloat16 ? kernels::QuotientRounding::BF16
        : t == at::kHalf      ? kernels::QuotientRounding::F16
                              : kernels::QuotientRounding::None;
}

kernels::IntRule ruleOf(ScaleConvention c)
{
    switch (c) {
    case ScaleConvention::Nxd:
        return kernels::IntRule::Nxd;
    case ScaleConvention::CompressedTensors:
        return kernels::IntRule::CompressedTensors;
    case ScaleConvention::FmsMo:
        return kernels::IntRule::FmsMo;
    case ScaleConvention::NanoGpt:
        break;
    }
    return kernels::IntRule::NanoGpt;
}

kernels::IntUnit intUnit(const UnitParams& p)
{
    return { p.scale, p.inverse, p.zeroPoint, p.multiplier, p.qmin, p.qmax };
}

// After fms-mo narrow-weight recomputation per channel: the error, the clipped share, the code
// histogram and std of the final codes, measured with the stored clip of each row (what the AIU
// dequantizes with). One more pass, only when some rows were recomputed.
void remeasureFmsMo(const RowSource& source, SchemeQuantized& q, const QuantizeOptions& options)
{
    const kernels::Table& k = kernels::best();
    const std::int64_t nRows = q.scale.size(0);
    const std::int64_t cols = source.cols;
    const at::Tensor scales = q.scale.reshape({ -1 }).contiguous();
    const float* scale = scales.data_ptr<float>();
    const auto* codes = q.codes.data_ptr<std::int8_t>();
    kernels::RunError total;
    std::int64_t clipped = 0;
    std::array<std::int64_t, 256> histogram {};
    std::mutex lock;
    RowSweep sweep(nRows, cols, options);
    sweep.run([&](std::int64_t begin, std::int64_t end, float* buffer) {
        kernels::RunError blockError;
        std::int64_t blockClipped = 0;
        std::array<std::int64_t, 256> blockHistogram {};
        std::vector<std::int8_t> scratch(static_cast<std::size_t>(cols));
        for (std::int64_t r = begin; r < end && sweep.running(); ++r) {
            const float* x = k.toFloat(source.type, source.row(r), cols, buffer);
            kernels::IntUnit unit;
            unit.scale = scale[r];
            unit.multiplier = 1.0f / scale[r];
            unit.qmin = -127;
            unit.qmax = 127;
            blockClipped += k.quantizeInt(kernels::IntRule::FmsMo, kernels::QuotientRounding::None, unit, x, cols,
                scratch.data()); // only the clipped count is used
            kernels::RunError rowError;
            k.measureInt(x, codes + r * cols, cols, scale[r], 0.0f, rowError);
            if (cols > 1)
                q.codeStd[static_cast<std::size_t>(r)] = codeStdOf(rowError, cols);
            mergeRun(blockError, rowError);
            if (options.codeHistogram)
                countBytes(reinterpret_cast<const std::uint8_t*>(codes + r * cols), cols, blockHistogram);
        }
        std::lock_guard<std::mutex> guard(lock);
        mergeRun(total, blockError);
        clipped += blockClipped;
        for (std::size_t i = 0; i < histogram.size(); ++i)
            histogram[i] += blockHistogram[i];
    });
    q.error = errorOf(total, nRows * cols);
    const std::int64_t count = nRows * cols;
    q.clippedFraction = count > 0 ? static_cast<double>(clipped) / static_cast<double>(count) : 0;
    if (options.codeHistogram) {
        q.codeHistogram.assign(255, 0); // fms-mo codes: -127..127
        for (std::size_t i = 0; i < q.codeHistogram.size(); ++i) {
            const int c = static_cast<int>(i) - 127;
            q.codeHistogram[i] = histogram[static_cast<std::uint8_t>(static_cast<std::int8_t>(c))];
        }
    }
}

// One call of quantizeWithScheme: the scheme's kernels and rules, the rows, and each unit's
// parameters (one for the tensor, or one per row and group).
struct SchemeRun
{
    SchemeRun(const at::Tensor& rows, const QuantScheme& scheme, const QuantizeOptions& options);

    const QuantScheme& scheme;
    const QuantizeOptions& options;
    const kernels::Table& k = kernels::best();
    RowSource source;
    std::int64_t nRows = 0;
    std::int64_t cols = 0;
    bool fp8 = false;
    bool perTensor = false;
    // Int and ternary codes with round half to even, and fp8, go through the vectorised
    // kernels; stochastic rounding through the scalar reference.
    bool vectorised = false;
    kernels::Fp8Kind fp8Kind = kernels::Fp8Kind::E4M3;
    Fp8Format fp8Format = Fp8Format::E4M3;
    kernels::IntRule rule = kernels::IntRule::Nxd;
    kernels::QuotientRounding weightDtype = kernels::QuotientRounding::None;
    // Symmetric abs-max schemes need only the abs-max of a unit (and that it is finite).
    void (*unitStatsOf)(const float* x, std::int64_t n, kernels::RunStats& stats) = nullptr;
    std::int64_t groups = 1;
    std::int64_t groupSize = 0;
    std::vector<UnitParams> params;
    // The fork's ternary scale is torch's float32 mean|x|; its summation order decides the last bit.
    std::vector<float> ternaryScale;

    UnitParams paramsOf(UnitStats st, const float* x, std::int64_t n, std::size_t ternaryIndex) const;
    // Pass 1, per tensor only: the statistics of the whole tensor give its one unit's parameters.
    void measureTensor(const at::Tensor& rows);
    // Codes for group g of row r (x: the row as float; out: the row's codes; decoded: fp8 code
    // values of the row); false when the group holds NaN or infinity.
    bool quantizeUnit(std::int64_t r, std::int64_t g, const float* x, std::uint8_t* out, float* decoded,
        kernels::RunError& rowError, std::int64_t& clipped);
};

SchemeRun::SchemeRun(const at::Tensor& rows, const QuantScheme& s, const QuantizeOptions& o)
    : scheme(s)
    , options(o)
    , source(sourceOf(rows))
    , nRows(rows.size(0))
    , cols(rows.size(1))
    , fp8(s.format == QuantFormat::Fp8E4M3 || s.format == QuantFormat::Fp8E5M2)
    , perTensor(s.granularity == Granularity::Tensor)
    , vectorised(s.rounding == Rounding::NearestEven)
    , fp8Kind(s.format == QuantFormat::Fp8E5M2 ? kernels::Fp8Kind::E5M2 : kernels::Fp8Kind::E4M3)
    , fp8Format(s.format == QuantFormat::Fp8E5M2 ? Fp8Format::E5M2 : Fp8Format::E4M3)
    , rule(ruleOf(s.convention))
    , weightDtype(dtypeRounding(rows.scalar_type()))
{
    const bool absMaxOnly = s.symmetric && s.clipping == Clipping::AbsMax && s.format != QuantFormat::Ternary;
    unitStatsOf = absMaxOnly ? k.absMax : k.stats;
    groups = s.granularity == Granularity::Group ? (cols + s.groupSize - 1) / s.groupSize : 1;
    groupSize = s.granularity == Granularity::Group ? s.groupSize : cols;
    params.resize(perTensor ? 1 : static_cast<std::size_t>(nRows * groups));
    if (s.format == QuantFormat::Ternary && s.granularity != Granularity::Group) {
        const at::Tensor mean
            = perTensor ? rows.to(at::kFloat).abs().mean().reshape({ 1 }) : rows.to(at::kFloat).abs().mean(1);
        const at::Tensor m = mean.contiguous();
        ternaryScale.assign(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
    }
}

UnitParams SchemeRun::paramsOf(UnitStats st, const float* x, std::int64_t n, std::size_t ternaryIndex) const
{
    if (scheme.clipping != Clipping::AbsMax && st.finite)
        st.clip = chooseClip(scheme, st, x, n);
    UnitParams p = unitParams(scheme, st, weightDtype);
    if (!ternaryScale.empty()) {
        p.scale = std::max(ternaryScale[ternaryIndex], 1e-5f);
        p.inverse = 1.0f / p.scale;
    }
    return p;
}

void SchemeRun::measureTensor(const at::Tensor& rows)
{
    UnitStats all;
    std::mutex lock;
    RowSweep sweep(nRows, cols, options);
    sweep.run([&](std::int64_t begin, std::int64_t end, float* buffer) {
        kernels::RunStats block;
        for (std::int64_t r = begin; r < end && sweep.running(); ++r) {
            kernels::RunStats row;
            unitStatsOf(k.toFloat(source.type, source.row(r), cols, buffer), cols, row);
            if (!row.finite)
                return sweep.fail(r);
            block.min = std::min(block.min, row.min);
            block.max = std::max(block.max, row.max);
            block.absMax = std::max(block.absMax, row.absMax);
            block.sumAbs += row.sumAbs;
            block.sumSquares += row.sumSquares;
        }
        std::lock_guard<std::mutex> guard(lock);
        all.merge(unitStats(block, (end - begin) * cols));
    });
    if (scheme.clipping != Clipping::AbsMax && rows.numel() > 0) {
        // One unit over the whole tensor: the clip needs every value at once (a float copy).
        const at::Tensor flat = rows.to(at::kFloat).contiguous().reshape({ -1 });
        params[0] = paramsOf(all, flat.data_ptr<float>(), flat.numel(), 0);
    } else {
        params[0] = paramsOf(all, nullptr, 0, 0);
    }
}

bool SchemeRun::quantizeUnit(std::int64_t r, std::int64_t g, const float* x, std::uint8_t* out, float* decoded,
    kernels::RunError& rowError, std::int64_t& clipped)
{
    const std::int64_t b = g * groupSize;
    const std::int64_t n = std::min(cols, b + groupSize) - b;
    UnitParams& p = perTensor ? params[0] : params[static_cast<std::size_t>(r * groups + g)];
    if (!perTensor) {
        kernels::RunStats st;
        unitStatsOf(x + b, n, st);
        if (!st.finite)
            return false;
        p = paramsOf(unitStats(st, n), x + b, n, static_cast<std::size_t>(r));
    }
    auto* o = reinterpret_cast<std::int8_t*>(out + b);
    if (vectorised && fp8) {
        float* d = decoded + b;
        clipped += k.quantizeFp8(
            fp8Kind, p.quotientRounding, p.scale, static_cast<float>(scheme.fp8Max), x + b, n, out + b, d);
        if (options.errorMetrics)
            k.measureDecoded(x + b, d, n, p.scale, rowError);
        return true;
    }
    if (vectorised) {
        clipped += k.quantizeInt(rule, p.quotientRounding, intUnit(p), x + b, n, o);
        if (options.errorMetrics)
            k.measureInt(x + b, o, n, p.scale, p.zeroPoint, rowError);
        return true;
    }
    for (std::int64_t j = b; j < b + n; ++j) { // the scalar reference
        const QuantizedValue v = quantizeValue(scheme, p, x[j], static_cast<std::uint64_t>(r * cols + j));
        out[j] = v.code;
        clipped += v.clipped;
        const double c = fp8 ? fp8ToFloat(fp8Format, v.code) : static_cast<std::int8_t>(v.code);
        const double e = static_cast<double>(x[j]) - v.dequantized;
        rowError.signalEnergy += static_cast<double>(x[j]) * x[j];
        rowError.errorEnergy += e * e;
        rowError.reconstructedEnergy += static_cast<double>(v.dequantized) * v.dequantized;
        rowError.dot += static_cast<double>(x[j]) * v.dequantized;
        rowError.maxAbsError = std::max(rowError.maxAbsError, std::fabs(e));
        rowError.codeSum += c;
        rowError.codeSumSquares += c * c;
    }
    return true;
}

// What pass 2 sums over the rows.
struct CodeTotals
{
    kernels::RunError error;
    std::int64_t clipped = 0;
    std::array<std::int64_t, 256> histogram {};

    void merge(const CodeTotals& other)
    {
        mergeRun(error, other.error);
        clipped += other.clipped;
        for (std::size_t i = 0; i < histogram.size(); ++i)
            histogram[i] += other.histogram[i];
    }
};

// Pass 2 (the only pass per channel and per group): scales, codes, error and code statistics.
CodeTotals quantizeRows(SchemeRun& run, SchemeQuantized& q)
{
    const std::int64_t cols = run.cols;
    q.codes = emptyPrefaulted({ run.nRows, cols }, run.fp8 ? at::kByte : at::kChar);
    auto* codes = static_cast<std::uint8_t*>(q.codes.data_ptr());
    if (run.options.errorMetrics)
        q.codeStd.assign(static_cast<std::size_t>(run.nRows), 0.0f);
    CodeTotals total;
    std::mutex lock;
    RowSweep sweep(run.nRows, cols, run.options);
    sweep.run([&](std::int64_t begin, std::int64_t end, float* buffer) {
        CodeTotals block;
        std::vector<float> decoded(run.fp8 ? static_cast<std::size_t>(cols) : 0); // fp8 code values
        for (std::int64_t r = begin; r < end && sweep.running(); ++r) {
            const float* x = run.k.toFloat(run.source.type, run.source.row(r), cols, buffer);
            std::uint8_t* out = codes + r * cols;
            kernels::RunError rowError;
            for (std::int64_t g = 0; g < run.groups; ++g) {
                if (!run.quantizeUnit(r, g, x, out, decoded.data(), rowError, block.clipped))
                    return sweep.fail(r);
            }
            if (run.options.errorMetrics && cols > 1)
                q.codeStd[static_cast<std::size_t>(r)] = codeStdOf(rowError, cols);
            mergeRun(block.error, rowError);
            if (run.options.codeHistogram)
                countBytes(out, cols, block.histogram);
        }
        std::lock_guard<std::mutex> guard(lock);
        total.merge(block);
    });
    return total;
}

// The result before any code exists: the scheme, the shape (channel axis first) and the code type.
SchemeQuantized emptyResult(const at::Tensor& weight, const QuantScheme& scheme)
{
    SchemeQuantized q;
    q.scheme = scheme;
    if (weight.dim() != 0) {
        q.shape = weight.sizes().vec();
        if (scheme.granularity == Granularity::Channel && scheme.axis != 0) {
            const auto d = q.shape[static_cast<std::size_t>(scheme.axis)];
            q.shape.erase(q.shape.begin() + scheme.axis);
            q.shape.insert(q.shape.begin(), d);
        }
    }
    q.codeType = scheme.format == QuantFormat::Fp8E4M3 ? DType::F8_E4M3
        : scheme.format == QuantFormat::Fp8E5M2        ? DType::F8_E5M2
                                                       : DType::I8;
    return q;
}

// Error, code histogram and clipped share from pass 2's sums; scales and zero points from the
// units' parameters.
void storeResults(const SchemeRun& run, const CodeTotals& total, std::int64_t numel, SchemeQuantized& q)
{
    const QuantScheme& scheme = run.scheme;
    if (run.options.errorMetrics)
        q.error = errorOf(total.error, numel);
    if (run.options.codeHistogram) {
        if (run.fp8) {
            q.codeHistogram.assign(total.histogram.begin(), total.histogram.end());
        } else { // bins qmin..qmax; codes outside (the nanoGPT quirks' wrap-around) are not counted
            const int levels = scheme.qmax() - scheme.qmin() + 1;
            q.codeHistogram.assign(static_cast<std::size_t>(levels), 0);
            for (std::size_t i = 0; i < q.codeHistogram.size(); ++i) {
                const int c = scheme.qmin() + static_cast<int>(i);
                q.codeHistogram[i] = total.histogram[static_cast<std::uint8_t>(static_cast<std::int8_t>(c))];
            }
        }
    }
    q.clippedFraction = numel ? static_cast<double>(total.clipped) / static_cast<double>(numel) : 0;

    const std::vector<std::int64_t> scaleShape
        = run.perTensor ? std::vector<std::int64_t> {} : std::vector<std::int64_t> { run.nRows, run.groups };
    q.scale = at::empty(scaleShape, at::kFloat);
    float* scale = q.scale.data_ptr<float>();
    for (std::size_t i = 0; i < run.params.size(); ++i)
        scale[i] = run.params[i].scale;
    if (!scheme.symmetric) {
        q.zeroPoint = at::empty(scaleShape, at::kFloat);
        for (std::size_t i = 0; i < run.params.size(); ++i)
            q.zeroPoint.data_ptr<float>()[i] = run.params[i].zeroPoint;
    }
    if (scheme.convention == ScaleConvention::FmsMo)
        q.clip = q.scale * 127.0;
}

} // namespace

SchemeQuantized quantizeWithScheme(const at::Tensor& weight, const QuantScheme& scheme, const QuantizeOptions& options)
{
    scheme.validate();
    const at::Tensor rows = asRows(weight, scheme);
    SchemeRun run(rows, scheme, options);
    SchemeQuantized q = emptyResult(weight, scheme);
    if (run.perTensor)
        run.measureTensor(rows);
    const CodeTotals total = quantizeRows(run, q);
    storeResults(run, total, rows.numel(), q);
    if (scheme.recomputeNarrowWeights) {
        recomputeNarrowWeights(rows, q);
        if (q.recomputedRows > 0 && q.scale.dim() == 2 && options.errorMetrics)
            remeasureFmsMo(run.source, q, options);
    }
    q.codes = q.codes.reshape(q.shape);
    return q;
}

SchemeQuantized quantizeActivations(const at::Tensor& x, const QuantScheme& scheme, const QuantizeOptions& options)
{
    if (scheme.granularity != Granularity::Token)
        return quantizeWithScheme(x, scheme, options);
    if (x.dim() == 0)
        throw UsageError("per-token quantization needs activations with a hidden dimension");
    QuantScheme perRow = scheme;
    perRow.granularity = Granularity::Channel;
    perRow.axis = 0;
    const std::int64_t hidden = x.size(-1);
    const at::Tensor tokens = x.reshape({ hidden > 0 ? x.numel() / hidden : 0, hidden });
    SchemeQuantized q = quantizeWithScheme(tokens, perRow, options);
    q.scheme = scheme;
    q.shape = x.sizes().vec();
    q.codes = q.codes.reshape(q.shape);
    return q;
}

at::Tensor dequantizeScheme(const SchemeQuantized& q)
{
    // Rows as the scales see them: [rows, groups] per channel, group or token; one row per tensor.
    const std::int64_t nRows = q.scale.dim() == 2 ? q.scale.size(0) : 1;
    const at::Tensor codes = q.codes.reshape({ nRows, -1 }).contiguous();
    const std::int64_t cols = codes.size(1);
    const std::int64_t groupSize = q.scheme.granularity == Granularity::Group ? q.scheme.groupSize : cols;
    const std::int64_t groups = cols > 0 ? (cols + groupSize - 1) / groupSize : 0;
    const at::Tensor scale = q.scale.contiguous();
    const at::Tensor zero = q.zeroPoint.defined() ? q.zeroPoint.contiguous() : at::Tensor();
    at::Tensor values = emptyPrefaulted({ nRows, cols }, at::kFloat);
    const float* s = scale.data_ptr<float>();
    const float* z = zero.defined() ? zero.data_ptr<float>() : nullptr;
    const auto* c = static_cast<const std::uint8_t*>(codes.data_ptr());
    float* out = values.data_ptr<float>();
    const bool perTensor = scale.numel() == 1 && scale.dim() == 0;
    const kernels::Table& k = kernels::best();
    const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(cols, 1));
    at::parallel_for(0, nRows, grain, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            for (std::int64_t g = 0; g < groups; ++g) {
                const std::size_t unit = perTensor ? 0 : static_cast<std::size_t>(r * groups + g);
                const std::int64_t b = r * cols + g * groupSize;
                const std::int64_t n = std::min(groupSize, cols - g * groupSize);
                const float zp = z ? z[unit] : 0.0f;
                if (q.codeType == DType::I8) {
                    k.dequantizeInt(reinterpret_cast<const std::int8_t*>(c + b), n, s[unit], zp, out + b);
                } else {
                    const Fp8Format f = q.codeType == DType::F8_E4M3 ? Fp8Format::E4M3 : Fp8Format::E5M2;
                    for (std::int64_t j = 0; j < n; ++j)
                        out[b + j] = (fp8ToFloat(f, c[b + j]) - zp) * s[unit];
                }
            }
        }
    });
    return values.reshape(q.shape);
}

} // namespace qs
