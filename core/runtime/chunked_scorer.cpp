// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/chunked_scorer.h"

#include "error.h"

#include <ATen/ATen.h>

#include <limits>

namespace qs {

void ChunkedScorer::Stream::init(std::int64_t rows)
{
    const auto d = at::TensorOptions().dtype(at::kDouble);
    max = at::full({ rows }, -std::numeric_limits<double>::infinity(), d);
    sum = at::zeros({ rows }, d);
    target = at::zeros({ rows }, d);
    best = at::full({ rows }, -std::numeric_limits<double>::infinity(), d);
    bestIndex = at::zeros({ rows }, at::kLong);
}

at::Tensor ChunkedScorer::Stream::add(
    std::int64_t begin, const at::Tensor& logits, const at::Tensor& targets, at::Tensor* rescale)
{
    // exp in float32 (as PyTorch's log-softmax), sums in double.
    const at::Tensor& l = logits;
    const auto [chunkMaxFloat, chunkArg] = l.max(1);
    const at::Tensor chunkMax = chunkMaxFloat.to(at::kDouble);
    const at::Tensor newMax = at::maximum(max, chunkMax);
    const at::Tensor factor = at::exp(max - newMax); // 0 for the first chunk (exp(-inf))
    at::Tensor e = at::exp(l - newMax.to(at::kFloat).unsqueeze(1));
    sum = sum * factor + e.sum(1, false, at::kDouble);
    if (rescale)
        *rescale = factor;
    max = newMax;
    const at::Tensor better = chunkMax > best; // ties keep the lower id, as a whole-vocabulary arg-max
    best = at::where(better, chunkMax, best);
    bestIndex = at::where(better, chunkArg + begin, bestIndex);
    const std::int64_t end = begin + l.size(1);
    const at::Tensor inside = (targets >= begin).logical_and(targets < end);
    if (inside.any().item<bool>()) {
        const at::Tensor local = at::where(inside, targets - begin, at::zeros_like(targets));
        target = at::where(inside, l.gather(1, local.unsqueeze(1)).squeeze(1).to(at::kDouble), target);
    }
    return e;
}

at::Tensor ChunkedScorer::Stream::logSumExp() const
{
    return max + at::log(sum);
}

ChunkedScorer::ChunkedScorer(const std::vector<std::int64_t>& targets, bool compared)
    : m_targets(at::tensor(targets, at::kLong))
    , m_compared(compared)
{
    const auto rows = static_cast<std::int64_t>(targets.size());
    m_model.init(rows);
    if (compared) {
        m_reference.init(rows);
        m_klTerm = at::zeros({ rows }, at::kDouble);
    }
}

void ChunkedScorer::add(std::int64_t begin, const at::Tensor& logits, const at::Tensor& referenceLogits)
{
    m_model.add(begin, logits, m_targets, nullptr);
    if (!m_compared)
        return;
    if (!referenceLogits.defined() || referenceLogits.sizes() != logits.sizes())
        throw UsageError("a compared score needs the reference's logits of every chunk");
    at::Tensor factor;
    const at::Tensor e = m_reference.add(begin, referenceLogits, m_targets, &factor);
    m_klTerm = m_klTerm * factor + (e * (referenceLogits - logits)).sum(1, false, at::kDouble);
}

double ChunkedScorer::nll() const
{
    return (m_model.logSumExp() - m_model.target).sum().item<double>();
}

double ChunkedScorer::referenceNll() const
{
    return m_compared ? (m_reference.logSumExp() - m_reference.target).sum().item<double>() : 0.0;
}

double ChunkedScorer::kl() const
{
    if (!m_compared)
        return 0;
    // sum p (a - b) = klTerm / S_a; KL = that - lse(a) + lse(b).
    return (m_klTerm / m_reference.sum - m_reference.logSumExp() + m_model.logSumExp()).sum().item<double>();
}

std::int64_t ChunkedScorer::agreements() const
{
    return m_compared ? (m_model.bestIndex == m_reference.bestIndex).sum().item<std::int64_t>() : 0;
}

} // namespace qs
