// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/activation_capture.h"

#include "error.h"

#include <ATen/ATen.h>

#include <cmath>

namespace qs {

ActivationCapture::ActivationCapture(ActivationCaptureOptions options)
    : m_options(options)
{
    if (m_options.histogramBins < 4 || m_options.histogramBins % 4 != 0)
        throw UsageError("the activation histogram needs a multiple of 4 bins");
}

LinearInputHook ActivationCapture::linearInputHook()
{
    return [this](const std::string& module, const at::Tensor& x) {
        record(module, "linear_input", x);
        return x;
    };
}

ActivationObserver ActivationCapture::observer()
{
    return [this](const std::string& point, const std::string& kind, const at::Tensor& x, bool perChannel) {
        record(point, kind, x, perChannel);
    };
}

void ActivationCapture::addToHistogram(Point& p, const at::Tensor& values)
{
    const auto bins = static_cast<std::size_t>(m_options.histogramBins);
    if (values.numel() == 0)
        return;
    const double top = values.abs().max().item<double>();
    if (p.counts.empty()) {
        p.counts.assign(bins, 0);
        p.range = top > 0 ? top : 1e-6;
    }
    while (top > p.range) { // double the range: pairs of bins merge into the middle half
        std::vector<std::int64_t> merged(bins, 0);
        for (std::size_t k = 0; k < bins / 2; ++k)
            merged[bins / 4 + k] = p.counts[2 * k] + p.counts[2 * k + 1];
        p.counts = std::move(merged);
        p.range *= 2;
    }
    const at::Tensor h = at::histc(values, static_cast<std::int64_t>(bins), -p.range, p.range).to(at::kLong);
    const std::int64_t* c = h.data_ptr<std::int64_t>();
    for (std::size_t b = 0; b < bins; ++b)
        p.counts[b] += c[b];
}

void ActivationCapture::record(
    const std::string& point, const std::string& kind, const at::Tensor& input, bool perChannel)
{
    auto it = m_index.find(point);
    if (it == m_index.end()) {
        it = m_index.emplace(point, m_points.size()).first;
        m_points.emplace_back();
        m_points.back().stats.point = point;
        m_points.back().stats.kind = kind;
    }
    Point& p = m_points[it->second];
    ActivationStats& s = p.stats;
    at::Tensor x = input.detach().to(at::kFloat);
    const at::Tensor finite = at::isfinite(x);
    const std::int64_t bad = x.numel() - finite.sum().item<std::int64_t>();
    at::Tensor histogramValues = x.reshape({ -1 });
    if (bad > 0) { // counted apart; zeros stand in for them in the per-channel sums
        s.histogram.nonFinite += static_cast<std::uint64_t>(bad);
        histogramValues = x.masked_select(finite);
        x = at::where(finite, x, at::zeros_like(x));
    }
    if (x.numel() == 0)
        return;
    const double lo = x.min().item<double>();
    const double hi = x.max().item<double>();
    if (s.tokens == 0 && s.channels == 0 && p.counts.empty()) {
        s.globalMin = lo;
        s.globalMax = hi;
    } else {
        s.globalMin = std::min(s.globalMin, lo);
        s.globalMax = std::max(s.globalMax, hi);
    }
    addToHistogram(p, histogramValues);
    if (!perChannel || x.dim() == 0) {
        s.tokens += x.numel();
        return;
    }
    const std::int64_t channels = x.size(-1);
    const at::Tensor rows = x.reshape({ -1, channels });
    if (s.channels == 0 && s.tokens == 0) {
        s.channels = channels;
        p.min = rows.amin(0);
        p.max = rows.amax(0);
        p.absMax = rows.abs().amax(0);
        p.sum = rows.sum(0, false, at::kDouble);
        p.sumSquares = rows.pow(2).sum(0, false, at::kDouble);
    } else {
        if (channels != s.channels)
            throw UsageError("activation point " + point + " changed from " + std::to_string(s.channels) + " to "
                + std::to_string(channels) + " channels");
        p.min = at::minimum(p.min, rows.amin(0));
        p.max = at::maximum(p.max, rows.amax(0));
        p.absMax = at::maximum(p.absMax, rows.abs().amax(0));
        p.sum += rows.sum(0, false, at::kDouble);
        p.sumSquares += rows.pow(2).sum(0, false, at::kDouble);
    }
    const std::int64_t n = rows.size(0);
    s.tokens += n;
    const std::int64_t keepMax
        = std::min<std::int64_t>(n, m_options.maxTokenMax - static_cast<std::int64_t>(s.tokenMax.size()));
    if (keepMax > 0) {
        const at::Tensor t = rows.slice(0, 0, keepMax).abs().amax(1).contiguous();
        s.tokenMax.insert(s.tokenMax.end(), t.data_ptr<float>(), t.data_ptr<float>() + keepMax);
    }
    const std::int64_t keepRows = std::min<std::int64_t>(n, m_options.sampleRows - s.sampleRows);
    if (keepRows > 0) {
        const at::Tensor r = rows.slice(0, 0, keepRows).contiguous();
        s.sample.insert(s.sample.end(), r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
        s.sampleRows += keepRows;
    }
}

std::vector<ActivationStats> ActivationCapture::results() const
{
    std::vector<ActivationStats> out;
    out.reserve(m_points.size());
    auto vec = [](const at::Tensor& t) {
        const at::Tensor f = t.to(at::kFloat).contiguous();
        return std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
    };
    for (const Point& p : m_points) {
        ActivationStats s = p.stats;
        if (s.channels > 0 && s.tokens > 0) {
            s.min = vec(p.min);
            s.max = vec(p.max);
            s.absMax = vec(p.absMax);
            s.mean = vec(p.sum / static_cast<double>(s.tokens));
            s.sqMean = vec(p.sumSquares / static_cast<double>(s.tokens));
        }
        s.histogram.lo = -p.range;
        s.histogram.hi = p.range;
        s.histogram.counts.assign(p.counts.begin(), p.counts.end());
        out.push_back(std::move(s));
    }
    return out;
}

} // namespace qs
