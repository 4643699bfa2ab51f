// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The head every family ends with: a prologue (final norm; BERT's prediction transform) and a
// vocabulary projection whose rows are read from the mapped checkpoint one chunk at a time, or
// held whole when they had to be transformed or decoded.
#include "models/block.h"

#include <functional>

namespace qs {

class WeightLoader;

class VocabHead final : public Head
{
public:
    using Prologue = std::function<at::Tensor(const at::Tensor& x, const BlockHooks& hooks)>;

    // The projection `module` with weight tensor `tensor` [vocab, hidden] (lm_head.weight, or the
    // tied embeddings under the module's name), an optional bias [vocab] and a divisor of the
    // logits (Granite's logits_scaling). Loads the weight whole through the loader when its
    // transform applies or the stored type needs decoding; otherwise logits() maps rows.
    VocabHead(const Checkpoint& checkpoint, const WeightLoader& loader, std::string module, std::string tensor,
        bool transformed, const ModelConfig& config, Prologue prologue, at::Tensor bias = {}, double divisor = 1);

    at::Tensor prologue(const at::Tensor& x, const BlockHooks& hooks) const override { return m_prologue(x, hooks); }
    HeadChunk chunk(std::int64_t begin, std::int64_t end) const override;
    const std::string& module() const override { return m_module; }
    std::int64_t hidden() const override { return m_hidden; }
    std::int64_t vocab() const override { return m_vocab; }
    void release() const override;

private:
    Checkpoint m_checkpoint;
    std::string m_module, m_tensor;
    std::int64_t m_hidden = 0, m_vocab = 0;
    at::Tensor m_whole; // [vocab, hidden] float32, or undefined: rows are mapped per call
    at::Tensor m_bias;
    double m_divisor = 1;
    Prologue m_prologue;
};

} // namespace qs
