#include "quant/int8_per_channel.h"

#include "error.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <atomic>
#include <cfloat>
#include <cmath>
#include <vector>

namespace qs {
namespace {

constexpr float kQMax = 127.0f;
constexpr float kQMin = -128.0f;

// Round half to even for |v| < 2^22 under the default rounding mode, without a libm call:
// adding 1.5 * 2^23 pushes the fraction out of the mantissa. Valid because the project never
// builds with -ffast-math (which would fold the two operations away).
inline float roundHalfEven(float v)
{
    constexpr float kMagic = 12582912.0f;
    return (v + kMagic) - kMagic;
}

template <typename T> inline float toFloat(T v)
{
    return static_cast<float>(v);
}

template <typename T>
void quantizeRows(const T* in, std::int64_t rows, std::int64_t cols, std::int8_t* codes, float* scales,
    ErrorAccumulator* perRow, std::atomic<std::int64_t>& badRow)
{
    const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(cols, 1));
    at::parallel_for(0, rows, grain, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const T* row = in + r * cols;
            float absmax = 0.0f;
            bool nonFinite = false;
            for (std::int64_t j = 0; j < cols; ++j) {
                const float a = std::fabs(toFloat(row[j]));
                nonFinite |= !(a <= FLT_MAX); // true for NaN and infinity
                absmax = std::max(absmax, a);
            }
            if (nonFinite) {
                std::int64_t expected = -1;
                badRow.compare_exchange_strong(expected, r);
                continue;
            }
            const float scale = std::max(absmax / kQMax, FLT_EPSILON);
            const float inv = 1.0f / scale;
            scales[r] = scale;
            std::int8_t* out = codes + r * cols;
            for (std::int64_t j = 0; j < cols; ++j) {
                const float v = std::min(std::max(toFloat(row[j]) * inv, kQMin), kQMax);
                out[j] = static_cast<std::int8_t>(roundHalfEven(v));
            }
            if (perRow) {
                ErrorAccumulator acc;
                for (std::int64_t j = 0; j < cols; ++j)
                    acc.add(toFloat(row[j]), static_cast<float>(out[j]) * scale);
                perRow[r] = acc;
            }
        }
    });
}

} // namespace

QuantizedTensor quantizeInt8PerChannelNxd(const at::Tensor& weight, ErrorMetrics* metrics)
{
    if (weight.dim() < 1)
        throw UsageError("per-channel quantization needs a tensor with at least one dimension");
    const at::Tensor in = weight.contiguous();
    const std::int64_t rows = in.size(0);
    const std::int64_t cols = rows > 0 ? in.numel() / rows : 0;

    QuantizedTensor q;
    q.codes = at::empty(in.sizes(), at::TensorOptions().dtype(at::kChar));
    q.scale = at::empty({ rows, 1 }, at::TensorOptions().dtype(at::kFloat));
    std::vector<ErrorAccumulator> perRow(metrics ? static_cast<std::size_t>(rows) : 0);
    std::atomic<std::int64_t> badRow { -1 };
    auto* codes = q.codes.data_ptr<std::int8_t>();
    auto* scales = q.scale.data_ptr<float>();
    auto* acc = metrics ? perRow.data() : nullptr;

    switch (in.scalar_type()) {
    case at::kFloat:
        quantizeRows(in.data_ptr<float>(), rows, cols, codes, scales, acc, badRow);
        break;
    case at::kDouble:
        quantizeRows(in.data_ptr<double>(), rows, cols, codes, scales, acc, badRow);
        break;
    case at::kBFloat16:
        quantizeRows(in.data_ptr<c10::BFloat16>(), rows, cols, codes, scales, acc, badRow);
        break;
    case at::kHalf:
        quantizeRows(in.data_ptr<c10::Half>(), rows, cols, codes, scales, acc, badRow);
        break;
    default:
        throw UsageError(std::string("cannot quantize a tensor of type ") + c10::toString(in.scalar_type())
            + "; expected a floating-point weight");
    }
    if (badRow.load() >= 0)
        throw FormatError("row " + std::to_string(badRow.load())
            + " contains NaN or infinity; refusing to compute a meaningless scale");
    if (metrics) {
        ErrorAccumulator total;
        for (const auto& r : perRow)
            total.merge(r);
        *metrics = total.finish();
    }
    return q;
}

at::Tensor dequantizeInt8PerChannel(const QuantizedTensor& q)
{
    const auto rows = q.codes.size(0);
    return (q.codes.to(at::kFloat).reshape({ rows, -1 }) * q.scale).reshape(q.codes.sizes());
}

} // namespace qs
