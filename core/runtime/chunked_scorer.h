// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Next-token (or masked-token) scores of one pass from its logits given in vocabulary chunks:
// an online log-sum-exp per scored row, the target's logit, the arg-max and, against a
// reference's logits of the same chunk, the KL divergence KL(reference || model). No
// [rows, vocab] matrix is ever held.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace qs {

class ChunkedScorer
{
public:
    // The scored rows' targets; `compared`: reference chunks come with every add().
    ChunkedScorer(const std::vector<std::int64_t>& targets, bool compared);

    // logits [rows, end - begin] of vocabulary ids begin .. end - 1 (float32), and the
    // reference's when compared. Chunks may come in any order, each id once.
    void add(std::int64_t begin, const at::Tensor& logits, const at::Tensor& referenceLogits = {});

    // Sums over the rows, once every chunk was added.
    double nll() const; // -sum log p(target)
    double referenceNll() const;
    double kl() const; // sum over rows of KL(reference || model)
    std::int64_t agreements() const; // rows whose arg-max is the reference's

private:
    struct Stream
    {
        at::Tensor max, sum, target, best, bestIndex; // [rows]: double, double, double, double, long
        void init(std::int64_t rows);
        // Adds the chunk; returns the chunk's exp(logits - new max) (float) for the KL term.
        at::Tensor add(std::int64_t begin, const at::Tensor& logits, const at::Tensor& targets, at::Tensor* rescale);
        at::Tensor logSumExp() const;
    };
    at::Tensor m_targets; // [rows] long
    bool m_compared = false;
    Stream m_model, m_reference;
    at::Tensor m_klTerm; // sum of exp(a - max_a) * (a - b) for the reference logits a and model logits b
};

} // namespace qs
