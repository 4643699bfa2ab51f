// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/vocab_head.h"

#include "error.h"
#include "models/weight_loader.h"

#include <ATen/ATen.h>

namespace qs {

VocabHead::VocabHead(const Checkpoint& checkpoint, const WeightLoader& loader, std::string module, std::string tensor,
    bool transformed, const ModelConfig& config, Prologue prologue, at::Tensor bias, double divisor)
    : m_checkpoint(checkpoint)
    , m_module(std::move(module))
    , m_tensor(std::move(tensor))
    , m_hidden(config.hidden)
    , m_vocab(config.vocabSize)
    , m_bias(std::move(bias))
    , m_divisor(divisor)
    , m_prologue(std::move(prologue))
{
    const TensorInfo* info = m_checkpoint.find(m_tensor);
    if (!info)
        throw FormatError("the model has no tensor '" + m_tensor + "', which a " + config.modelType + " model needs",
            ErrorContext { m_checkpoint.path().string(), m_tensor, {} });
    const bool decoded = m_checkpoint.quantization().recipes.count(m_tensor) > 0 || info->dtype == DType::F8_E4M3
        || info->dtype == DType::F8_E5M2;
    if (transformed || decoded) {
        const at::Tensor w = loader.tensor(m_tensor, { m_vocab, m_hidden });
        m_whole = transformed ? loader.transformed(m_module, w) : w;
        m_checkpoint.release(m_tensor);
    } else if (info->shape != std::vector<std::int64_t> { m_vocab, m_hidden }) {
        throw FormatError("shape does not fit the config (expected " + std::to_string(m_vocab) + "x"
                + std::to_string(m_hidden) + ")",
            ErrorContext { info->source, m_tensor, {} });
    }
}

HeadChunk VocabHead::chunk(std::int64_t begin, std::int64_t end) const
{
    HeadChunk c;
    c.begin = begin;
    c.weight = m_whole.defined() ? m_whole.slice(0, begin, end)
                                 : m_checkpoint.loadRows(m_tensor, begin, end).to(at::kFloat).contiguous();
    if (m_bias.defined())
        c.bias = m_bias.slice(0, begin, end);
    c.divisor = m_divisor;
    return c;
}

void VocabHead::release() const
{
    if (!m_whole.defined())
        m_checkpoint.release(m_tensor);
}

} // namespace qs
