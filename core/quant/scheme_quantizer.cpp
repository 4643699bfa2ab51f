#include "quant/scheme_quantizer.h"

#include "error.h"
#include "quant/fp8.h"
#include "quant/narrow_weights.h"
#include "quant/scheme_math.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <atomic>
#include <cfloat>
#include <cmath>
#include <mutex>

namespace qs {
namespace {

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

template <typename T>
void forEachRow(const at::Tensor& rows, const std::function<void(std::int64_t, const float*, std::int64_t)>& f)
{
    const std::int64_t n = rows.size(0);
    const std::int64_t cols = rows.size(1);
    const T* data = rows.data_ptr<T>();
    const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(cols, 1));
    at::parallel_for(0, n, grain, [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> buffer(static_cast<std::size_t>(cols));
        for (std::int64_t r = begin; r < end; ++r) {
            const T* in = data + r * cols;
            for (std::int64_t j = 0; j < cols; ++j)
                buffer[static_cast<std::size_t>(j)] = static_cast<float>(in[j]);
            f(r, buffer.data(), cols);
        }
    });
}

void forEachRowAnyType(const at::Tensor& rows, const std::function<void(std::int64_t, const float*, std::int64_t)>& f)
{
    switch (rows.scalar_type()) {
    case at::kFloat:
        return forEachRow<float>(rows, f);
    case at::kDouble:
        return forEachRow<double>(rows, f);
    case at::kHalf:
        return forEachRow<c10::Half>(rows, f);
    case at::kBFloat16:
        return forEachRow<c10::BFloat16>(rows, f);
    default:
        throw UsageError(
            std::string("only floating tensors can be quantized, not ") + c10::toString(rows.scalar_type()));
    }
}

} // namespace

SchemeQuantized quantizeWithScheme(const at::Tensor& weight, const QuantScheme& scheme)
{
    scheme.validate();
    const at::Tensor rows = asRows(weight, scheme);
    const std::int64_t nRows = rows.size(0);
    const std::int64_t cols = rows.size(1);
    const bool fp8 = scheme.format == QuantFormat::Fp8E4M3 || scheme.format == QuantFormat::Fp8E5M2;

    SchemeQuantized q;
    q.scheme = scheme;
    q.shape = rows.sizes().vec();
    if (weight.dim() != 0) {
        auto moved = weight.sizes().vec();
        if (scheme.granularity == Granularity::Channel && scheme.axis != 0) {
            const auto d = moved[static_cast<std::size_t>(scheme.axis)];
            moved.erase(moved.begin() + scheme.axis);
            moved.insert(moved.begin(), d);
        }
        q.shape = moved;
    } else {
        q.shape = {};
    }
    q.codeType = scheme.format == QuantFormat::Fp8E4M3 ? DType::F8_E4M3
        : scheme.format == QuantFormat::Fp8E5M2        ? DType::F8_E5M2
                                                       : DType::I8;

    // Pass 1: statistics per unit (row, group, or rows reduced to one for per-tensor).
    const std::int64_t groups
        = scheme.granularity == Granularity::Group ? (cols + scheme.groupSize - 1) / scheme.groupSize : 1;
    const std::int64_t groupSize = scheme.granularity == Granularity::Group ? scheme.groupSize : cols;
    std::vector<UnitStats> stats(static_cast<std::size_t>(nRows * groups));
    std::atomic<std::int64_t> badRow { -1 };
    forEachRowAnyType(rows, [&](std::int64_t r, const float* x, std::int64_t n) {
        for (std::int64_t g = 0; g < groups; ++g) {
            UnitStats& s = stats[static_cast<std::size_t>(r * groups + g)];
            const std::int64_t begin = g * groupSize;
            const std::int64_t end = std::min(n, begin + groupSize);
            for (std::int64_t j = begin; j < end; ++j)
                s.add(x[j]);
            if (!s.finite)
                badRow = r;
            else if (scheme.clipping != Clipping::AbsMax && scheme.granularity != Granularity::Tensor)
                s.clip = chooseClip(scheme, s, x + begin, end - begin);
        }
    });
    if (badRow >= 0)
        throw FormatError("row " + std::to_string(badRow.load()) + " holds NaN or infinity; it cannot be quantized");
    if (scheme.granularity == Granularity::Tensor) {
        UnitStats all;
        for (const auto& s : stats)
            all.merge(s);
        if (scheme.clipping != Clipping::AbsMax && all.finite) {
            // One unit over the whole tensor: the clip needs every value at once (a float copy).
            const at::Tensor flat = rows.to(at::kFloat).contiguous().reshape({ -1 });
            all.clip = chooseClip(scheme, all, flat.data_ptr<float>(), flat.numel());
        }
        stats.assign(1, all);
    }

    // Scales and zero points per unit, by the scheme's convention.
    std::vector<UnitParams> params(stats.size());
    for (std::size_t i = 0; i < stats.size(); ++i)
        params[i] = unitParams(scheme, stats[i]);
    if (scheme.format == QuantFormat::Ternary && scheme.granularity != Granularity::Group) {
        // The fork's scale is torch's float32 mean|x|; its summation order decides the last bit.
        const at::Tensor mean = scheme.granularity == Granularity::Tensor
            ? rows.to(at::kFloat).abs().mean().reshape({ 1 })
            : rows.to(at::kFloat).abs().mean(1);
        for (std::size_t i = 0; i < params.size(); ++i) {
            params[i].scale = std::max(mean[static_cast<std::int64_t>(i)].item<float>(), 1e-5f);
            params[i].inverse = 1.0f / params[i].scale;
        }
    }
    const std::vector<std::int64_t> scaleShape = scheme.granularity == Granularity::Tensor
        ? std::vector<std::int64_t> {}
        : std::vector<std::int64_t> { nRows, groups };
    q.scale = at::empty(scaleShape, at::kFloat);
    float* scale = q.scale.data_ptr<float>();
    for (std::size_t i = 0; i < params.size(); ++i)
        scale[i] = params[i].scale;
    if (!scheme.symmetric) {
        q.zeroPoint = at::empty(scaleShape, at::kFloat);
        for (std::size_t i = 0; i < params.size(); ++i)
            q.zeroPoint.data_ptr<float>()[i] = params[i].zeroPoint;
    }

    // Pass 2: codes, error and clipping, in one sweep.
    q.codes = at::empty({ nRows, cols }, fp8 ? at::kByte : at::kChar);
    auto* codes = static_cast<std::uint8_t*>(q.codes.data_ptr());
    std::mutex mergeLock;
    ErrorAccumulator total;
    std::int64_t clipped = 0;
    q.codeHistogram.assign(fp8 ? 256 : static_cast<std::size_t>(scheme.qmax() - scheme.qmin() + 1), 0);
    q.codeStd.assign(static_cast<std::size_t>(nRows), 0.0f);
    const int codeOffset = fp8 ? 0 : -scheme.qmin();
    const Fp8Format fp8Format = scheme.format == QuantFormat::Fp8E5M2 ? Fp8Format::E5M2 : Fp8Format::E4M3;
    forEachRowAnyType(rows, [&](std::int64_t r, const float* x, std::int64_t n) {
        ErrorAccumulator acc;
        std::int64_t rowClipped = 0;
        std::vector<std::int64_t> histogram(q.codeHistogram.size(), 0);
        double sum = 0, sumSquares = 0;
        for (std::int64_t j = 0; j < n; ++j) {
            const std::int64_t unit = scheme.granularity == Granularity::Tensor ? 0 : r * groups + j / groupSize;
            const std::uint64_t index = static_cast<std::uint64_t>(r * cols + j);
            const QuantizedValue v = quantizeValue(scheme, params[static_cast<std::size_t>(unit)], x[j], index);
            codes[index] = v.code;
            rowClipped += v.clipped;
            acc.add(x[j], v.dequantized);
            const double c = fp8 ? fp8ToFloat(fp8Format, v.code) : static_cast<std::int8_t>(v.code);
            sum += c;
            sumSquares += c * c;
            const int bin = fp8 ? v.code : static_cast<std::int8_t>(v.code) + codeOffset;
            if (bin >= 0 && bin < static_cast<int>(histogram.size())) // nanoGPT quirks may wrap outside
                ++histogram[static_cast<std::size_t>(bin)];
        }
        q.codeStd[static_cast<std::size_t>(r)] = n > 1
            ? static_cast<float>(std::sqrt(std::max(0.0, (sumSquares - sum * sum / n) / static_cast<double>(n - 1))))
            : 0.0f;
        std::lock_guard<std::mutex> lock(mergeLock);
        total.merge(acc);
        clipped += rowClipped;
        for (std::size_t b = 0; b < histogram.size(); ++b)
            q.codeHistogram[b] += histogram[b];
    });
    q.error = total.finish();
    q.clippedFraction = rows.numel() ? static_cast<double>(clipped) / static_cast<double>(rows.numel()) : 0;
    if (scheme.convention == ScaleConvention::FmsMo)
        q.clip = q.scale * 127.0;
    if (scheme.recomputeNarrowWeights)
        recomputeNarrowWeights(rows, q);
    q.codes = q.codes.reshape(q.shape);
    return q;
}

at::Tensor dequantizeScheme(const SchemeQuantized& q)
{
    const std::int64_t nRows = q.shape.empty() ? 1 : q.shape[0];
    at::Tensor codes = q.codes.reshape({ nRows, -1 });
    at::Tensor values;
    if (q.codeType == DType::I8) {
        values = codes.to(at::kFloat);
    } else {
        values = at::empty(codes.sizes(), at::kFloat);
        const at::Tensor c = codes.contiguous();
        decodeFp8(q.codeType == DType::F8_E4M3 ? Fp8Format::E4M3 : Fp8Format::E5M2, c.data_ptr<std::uint8_t>(),
            static_cast<std::size_t>(c.numel()), values.data_ptr<float>());
    }
    auto expand = [&](at::Tensor s) {
        if (s.dim() == 0)
            return s;
        const std::int64_t cols = values.size(1);
        const std::int64_t groupSize = q.scheme.granularity == Granularity::Group ? q.scheme.groupSize : cols;
        return s.repeat_interleave(groupSize, 1).narrow(1, 0, cols);
    };
    if (q.zeroPoint.defined())
        values = values - expand(q.zeroPoint);
    return (values * expand(q.scale)).reshape(q.shape);
}

} // namespace qs
