#include "quant/scheme_quantizer.h"

#include "error.h"
#include "quant/fp8.h"
#include "quant/kernels/row_kernels.h"
#include "quant/narrow_weights.h"
#include "quant/prefaulted_tensor.h"
#include "quant/scheme_math.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <array>
#include <cfloat>
#include <cmath>
#include <mutex>

namespace qs {
namespace {

using kernels::InputType;

// The input as [rows, cols], channel axis first.
at::Tensor asRows(const at::Tensor& weight, const QuantScheme& scheme)
{
    at::Tensor w = weight;
    if (w.dim() == 0)
        return w.reshape({ 1, 1 });
    if (scheme.granularity == Granularity::Channel && scheme.axis != 0) {
        if (scheme.axis >= w.dim())
            throw UsageError("scheme '" + scheme.name + "': channel axis " + std::to_string(scheme.axis)
                + " does not exist in a " + std::to_string(w.dim()) + "-D tensor");
        w = w.movedim(scheme.axis, 0);
    }
    return w.contiguous().reshape({ w.size(0), w.numel() / std::max<std::int64_t>(w.size(0), 1) });
}

// Row r of a contiguous [rows, cols] tensor, as the kernels read it.
struct RowSource
{
    const std::uint8_t* data = nullptr;
    std::int64_t cols = 0;
    std::size_t elementSize = 0;
    InputType type = InputType::F32;

    const void* row(std::int64_t r) const { return data + static_cast<std::size_t>(r * cols) * elementSize; }
};

RowSource sourceOf(const at::Tensor& rows)
{
    RowSource s;
    switch (rows.scalar_type()) {
    case at::kFloat:
        s.type = InputType::F32;
        break;
    case at::kDouble:
        s.type = InputType::F64;
        break;
    case at::kHalf:
        s.type = InputType::F16;
        break;
    case at::kBFloat16:
        s.type = InputType::BF16;
        break;
    default:
        throw UsageError(
            std::string("only floating tensors can be quantized, not ") + c10::toString(rows.scalar_type()));
    }
    s.data = static_cast<const std::uint8_t*>(rows.data_ptr());
    s.cols = rows.size(1);
    s.elementSize = rows.element_size();
    return s;
}

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

UnitStats unitStats(const kernels::RunStats& r, std::int64_t count)
{
    UnitStats s;
    s.min = r.min;
    s.max = r.max;
    s.absMax = r.absMax;
    s.sumAbs = r.sumAbs;
    s.sumSquares = r.sumSquares;
    s.count = count;
    s.finite = r.finite;
    return s;
}

void mergeRun(kernels::RunError& into, const kernels::RunError& e)
{
    into.signalEnergy += e.signalEnergy;
    into.errorEnergy += e.errorEnergy;
    into.reconstructedEnergy += e.reconstructedEnergy;
    into.dot += e.dot;
    into.maxAbsError = std::max(into.maxAbsError, e.maxAbsError);
    into.codeSum += e.codeSum;
    into.codeSumSquares += e.codeSumSquares;
}

// Adds the byte values of data[0..n) to `counts`. Four interleaved tables keep repeated values
// (most codes sit near zero) from serialising on one counter.
void countBytes(const std::uint8_t* data, std::int64_t n, std::array<std::int64_t, 256>& counts)
{
    std::array<std::array<std::uint32_t, 256>, 4> part {};
    std::int64_t j = 0;
    while (j < n) {
        const std::int64_t end = std::min(n, j + (std::int64_t { 1 } << 30)); // no uint32 overflow
        for (; j + 4 <= end; j += 4) {
            ++part[0][data[j]];
            ++part[1][data[j + 1]];
            ++part[2][data[j + 2]];
            ++part[3][data[j + 3]];
        }
        for (; j < end; ++j)
            ++part[0][data[j]];
        for (std::size_t b = 0; b < 256; ++b) {
            counts[b] += static_cast<std::int64_t>(part[0][b]) + part[1][b] + part[2][b] + part[3][b];
            part[0][b] = part[1][b] = part[2][b] = part[3][b] = 0;
        }
    }
}

// Calls body(begin, end, rowBuffer) over blocks of rows, in parallel when asked. Between rows
// the body calls `running()`, which turns false once cancelled (or once a row failed).
class RowSweep
{
public:
    RowSweep(std::int64_t rows, std::int64_t cols, const QuantizeOptions& options)
        : m_rows(rows)
        , m_cols(cols)
        , m_options(options)
    { }

    template <typename Body> void run(Body&& body)
    {
        auto block = [&](std::int64_t begin, std::int64_t end) {
            std::vector<float> buffer(static_cast<std::size_t>(std::max<std::int64_t>(m_cols, 1)));
            body(begin, end, buffer.data());
        };
        const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(m_cols, 1));
        if (m_options.parallel)
            at::parallel_for(0, m_rows, grain, block);
        else
            block(0, m_rows);
        if (m_badRow >= 0)
            throw FormatError(
                "row " + std::to_string(m_badRow.load()) + " holds NaN or infinity; it cannot be quantized");
        if (m_stopped)
            throw CancelledError();
    }

    bool running()
    {
        if (m_options.cancel && m_options.cancel->load(std::memory_order_relaxed))
            m_stopped = true;
        return !m_stopped;
    }

    void fail(std::int64_t row)
    {
        std::int64_t expected = -1;
        m_badRow.compare_exchange_strong(expected, row);
        m_stopped = true;
    }

private:
    std::int64_t m_rows;
    std::int64_t m_cols;
    const QuantizeOptions& m_options;
    std::atomic<bool> m_stopped { false };
    std::atomic<std::int64_t> m_badRow { -1 };
};

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
            if (cols > 1) {
                const double var = (rowError.codeSumSquares - rowError.codeSum * rowError.codeSum / cols) / (cols - 1);
                q.codeStd[static_cast<std::size_t>(r)] = static_cast<float>(std::sqrt(std::max(0.0, var)));
            }
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
    ErrorAccumulator acc;
    acc.count = nRows * cols;
    acc.signalEnergy = total.signalEnergy;
    acc.errorEnergy = total.errorEnergy;
    acc.reconstructedEnergy = total.reconstructedEnergy;
    acc.dot = total.dot;
    acc.maxAbsError = total.maxAbsError;
    q.error = acc.finish();
    q.clippedFraction = acc.count ? static_cast<double>(clipped) / static_cast<double>(acc.count) : 0;
    if (options.codeHistogram) {
        q.codeHistogram.assign(255, 0); // fms-mo codes: -127..127
        for (int c = -127; c <= 127; ++c)
            q.codeHistogram[static_cast<std::size_t>(c + 127)]
                = histogram[static_cast<std::uint8_t>(static_cast<std::int8_t>(c))];
    }
}

} // namespace

SchemeQuantized quantizeWithScheme(const at::Tensor& weight, const QuantScheme& scheme, const QuantizeOptions& options)
{
    scheme.validate();
    const at::Tensor rows = asRows(weight, scheme);
    const RowSource source = sourceOf(rows);
    const kernels::Table& k = kernels::best();
    const std::int64_t nRows = rows.size(0);
    const std::int64_t cols = rows.size(1);
    const bool fp8 = scheme.format == QuantFormat::Fp8E4M3 || scheme.format == QuantFormat::Fp8E5M2;
    const bool perTensor = scheme.granularity == Granularity::Tensor;
    // Int and ternary codes with round half to even, and fp8, go through the vectorised
    // kernels; stochastic rounding through the scalar reference.
    const bool vectorised = scheme.rounding == Rounding::NearestEven;
    const kernels::Fp8Kind fp8Kind
        = scheme.format == QuantFormat::Fp8E5M2 ? kernels::Fp8Kind::E5M2 : kernels::Fp8Kind::E4M3;
    const kernels::IntRule rule = ruleOf(scheme.convention);
    const kernels::QuotientRounding weightDtype = dtypeRounding(rows.scalar_type());
    // Symmetric abs-max schemes need only the abs-max of a unit (and that it is finite).
    const bool absMaxOnly
        = scheme.symmetric && scheme.clipping == Clipping::AbsMax && scheme.format != QuantFormat::Ternary;
    const auto unitStatsOf = absMaxOnly ? k.absMax : k.stats;

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
    const std::int64_t groups
        = scheme.granularity == Granularity::Group ? (cols + scheme.groupSize - 1) / scheme.groupSize : 1;
    const std::int64_t groupSize = scheme.granularity == Granularity::Group ? scheme.groupSize : cols;
    std::vector<UnitParams> params(perTensor ? 1 : static_cast<std::size_t>(nRows * groups));

    // The fork's ternary scale is torch's float32 mean|x|; its summation order decides the last bit.
    std::vector<float> ternaryScale;
    if (scheme.format == QuantFormat::Ternary && scheme.granularity != Granularity::Group) {
        const at::Tensor mean
            = perTensor ? rows.to(at::kFloat).abs().mean().reshape({ 1 }) : rows.to(at::kFloat).abs().mean(1);
        const at::Tensor m = mean.contiguous();
        ternaryScale.assign(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
    }
    auto paramsOf = [&](UnitStats st, const float* x, std::int64_t n, std::size_t ternaryIndex) {
        if (scheme.clipping != Clipping::AbsMax && st.finite)
            st.clip = chooseClip(scheme, st, x, n);
        UnitParams p = unitParams(scheme, st, weightDtype);
        if (!ternaryScale.empty()) {
            p.scale = std::max(ternaryScale[ternaryIndex], 1e-5f);
            p.inverse = 1.0f / p.scale;
        }
        return p;
    };

    if (perTensor) { // pass 1: the statistics of the whole tensor
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

    // Pass 2 (the only pass per channel and per group): scales, codes, error and code statistics.
    q.codes = emptyPrefaulted({ nRows, cols }, fp8 ? at::kByte : at::kChar);
    auto* codes = static_cast<std::uint8_t*>(q.codes.data_ptr());
    kernels::RunError total;
    std::int64_t clipped = 0;
    std::array<std::int64_t, 256> histogram {};
    if (options.errorMetrics)
        q.codeStd.assign(static_cast<std::size_t>(nRows), 0.0f);
    const Fp8Format fp8Format = scheme.format == QuantFormat::Fp8E5M2 ? Fp8Format::E5M2 : Fp8Format::E4M3;
    std::mutex lock;
    RowSweep sweep(nRows, cols, options);
    sweep.run([&](std::int64_t begin, std::int64_t end, float* buffer) {
        kernels::RunError blockError;
        std::int64_t blockClipped = 0;
        std::array<std::int64_t, 256> blockHistogram {};
        std::vector<float> decoded(fp8 ? static_cast<std::size_t>(cols) : 0); // fp8 code values
        for (std::int64_t r = begin; r < end && sweep.running(); ++r) {
            const float* x = k.toFloat(source.type, source.row(r), cols, buffer);
            std::uint8_t* out = codes + r * cols;
            kernels::RunError rowError;
            for (std::int64_t g = 0; g < groups; ++g) {
                const std::int64_t b = g * groupSize;
                const std::int64_t n = std::min(cols, b + groupSize) - b;
                UnitParams& p = perTensor ? params[0] : params[static_cast<std::size_t>(r * groups + g)];
                if (!perTensor) {
                    kernels::RunStats st;
                    unitStatsOf(x + b, n, st);
                    if (!st.finite)
                        return sweep.fail(r);
                    p = paramsOf(unitStats(st, n), x + b, n, static_cast<std::size_t>(r));
                }
                auto* o = reinterpret_cast<std::int8_t*>(out + b);
                if (vectorised && fp8) {
                    float* d = decoded.data() + b;
                    blockClipped += k.quantizeFp8(
                        fp8Kind, p.quotientRounding, p.scale, static_cast<float>(scheme.fp8Max), x + b, n, out + b, d);
                    if (options.errorMetrics)
                        k.measureDecoded(x + b, d, n, p.scale, rowError);
                    continue;
                }
                if (vectorised) {
                    blockClipped += k.quantizeInt(rule, p.quotientRounding, intUnit(p), x + b, n, o);
                    if (options.errorMetrics)
                        k.measureInt(x + b, o, n, p.scale, p.zeroPoint, rowError);
                    continue;
                }
                for (std::int64_t j = b; j < b + n; ++j) { // the scalar reference
                    const QuantizedValue v = quantizeValue(scheme, p, x[j], static_cast<std::uint64_t>(r * cols + j));
                    out[j] = v.code;
                    blockClipped += v.clipped;
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
            }
            if (options.errorMetrics && cols > 1) {
                const double var = (rowError.codeSumSquares - rowError.codeSum * rowError.codeSum / cols) / (cols - 1);
                q.codeStd[static_cast<std::size_t>(r)] = static_cast<float>(std::sqrt(std::max(0.0, var)));
            }
            mergeRun(blockError, rowError);
            if (options.codeHistogram)
                countBytes(out, cols, blockHistogram);
        }
        std::lock_guard<std::mutex> guard(lock);
        mergeRun(total, blockError);
        clipped += blockClipped;
        for (std::size_t i = 0; i < histogram.size(); ++i)
            histogram[i] += blockHistogram[i];
    });

    if (options.errorMetrics) {
        ErrorAccumulator acc;
        acc.count = rows.numel();
        acc.signalEnergy = total.signalEnergy;
        acc.errorEnergy = total.errorEnergy;
        acc.reconstructedEnergy = total.reconstructedEnergy;
        acc.dot = total.dot;
        acc.maxAbsError = total.maxAbsError;
        q.error = acc.finish();
    }
    if (options.codeHistogram) {
        if (fp8) {
            q.codeHistogram.assign(histogram.begin(), histogram.end());
        } else { // bins qmin..qmax; codes outside (the nanoGPT quirks' wrap-around) are not counted
            q.codeHistogram.assign(static_cast<std::size_t>(scheme.qmax() - scheme.qmin() + 1), 0);
            for (int c = scheme.qmin(); c <= scheme.qmax(); ++c)
                q.codeHistogram[static_cast<std::size_t>(c - scheme.qmin())]
                    = histogram[static_cast<std::uint8_t>(static_cast<std::int8_t>(c))];
        }
    }
    q.clippedFraction = rows.numel() ? static_cast<double>(clipped) / static_cast<double>(rows.numel()) : 0;

    const std::vector<std::int64_t> scaleShape
        = perTensor ? std::vector<std::int64_t> {} : std::vector<std::int64_t> { nRows, groups };
    q.scale = at::empty(scaleShape, at::kFloat);
    float* scale = q.scale.data_ptr<float>();
    for (std::size_t i = 0; i < params.size(); ++i)
        scale[i] = params[i].scale;
    if (!scheme.symmetric) {
        q.zeroPoint = at::empty(scaleShape, at::kFloat);
        for (std::size_t i = 0; i < params.size(); ++i)
            q.zeroPoint.data_ptr<float>()[i] = params[i].zeroPoint;
    }
    if (scheme.convention == ScaleConvention::FmsMo)
        q.clip = q.scale * 127.0;
    if (scheme.recomputeNarrowWeights) {
        recomputeNarrowWeights(rows, q);
        if (q.recomputedRows > 0 && q.scale.dim() == 2 && options.errorMetrics)
            remeasureFmsMo(source, q, options);
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
