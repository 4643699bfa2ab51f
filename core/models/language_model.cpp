// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/language_model.h"

#include "error.h"
#include "models/block.h"

#include <ATen/ATen.h>

namespace qs {

void LanguageModel::checkTokens(const std::vector<std::int64_t>& tokens) const
{
    const std::int64_t vocab = config().vocabSize;
    for (auto t : tokens) {
        if (t < 0 || t >= vocab)
            throw UsageError(
                "token id " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
}

bool LanguageModel::endsGeneration(std::int64_t next) const
{
    const ModelConfig& c = config();
    return next == c.eosToken || (c.family == ModelFamily::Llama && next == c.bosToken); // llama2.c ends a story with BOS
}

std::vector<std::int64_t> LanguageModel::greedy(std::vector<std::int64_t> prompt, int steps) const
{
    const ModelConfig& c = config();
    if (!c.causal())
        throw UsageError("a " + c.modelType + " model is an encoder: it scores masked tokens and does not generate");
    for (int s = 0; s < steps && static_cast<std::int64_t>(prompt.size()) < c.maxPositions; ++s) {
        const at::Tensor logits = forward(prompt);
        const std::int64_t next = logits[-1].argmax().item<std::int64_t>();
        prompt.push_back(next);
        if (endsGeneration(next))
            break;
    }
    return prompt;
}

namespace {

// Every block of a ModelBlocks loaded once.
class ResidentModel final : public LanguageModel
{
public:
    ResidentModel(const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform)
        : m_blocks(ModelBlocks::open(checkpoint, config))
    {
        for (std::int64_t i = 0; i < config.layers; ++i) {
            m_layers.push_back(m_blocks->loadLayer(i, transform));
            m_blocks->release(*m_layers.back());
        }
        m_head = m_blocks->loadHead(transform);
        m_headWeights = m_head->chunk(0, m_head->vocab()); // converted once
    }

    const ModelConfig& config() const override { return m_blocks->config(); }
    std::vector<std::string> headModules() const override { return m_blocks->headModules(); }

    at::Tensor forward(const std::vector<std::int64_t>& tokens, const LinearInputHook& hook,
        const ActivationObserver& observe) const override
    {
        if (tokens.empty())
            return at::empty({ 0, config().vocabSize });
        const BlockHooks hooks { hook, observe, {} };
        at::Tensor x = m_blocks->embed(tokens);
        for (const auto& layer : m_layers)
            x = layer->forward(x, 0, hooks);
        return logits(x, hooks);
    }

    std::vector<std::int64_t> greedy(std::vector<std::int64_t> prompt, int steps) const override
    {
        const ModelConfig& c = config();
        if (!c.causal())
            throw UsageError(
                "a " + c.modelType + " model is an encoder: it scores masked tokens and does not generate");
        if (prompt.empty() || steps <= 0)
            return prompt;
        std::vector<KvCache> caches(m_layers.size());
        std::vector<std::int64_t> input = prompt;
        for (int s = 0; s < steps && static_cast<std::int64_t>(prompt.size()) < c.maxPositions; ++s) {
            const auto position = static_cast<std::int64_t>(prompt.size() - input.size());
            at::Tensor x = m_blocks->embed(input, position);
            for (std::size_t i = 0; i < m_layers.size(); ++i)
                x = m_layers[i]->forward(x, position, {}, &caches[i]);
            const std::int64_t next = logits(x.slice(0, -1), {})[0].argmax().item<std::int64_t>();
            prompt.push_back(next);
            input = { next };
            if (endsGeneration(next))
                break;
        }
        return prompt;
    }

private:
    at::Tensor logits(const at::Tensor& x, const BlockHooks& hooks) const
    {
        at::Tensor h = m_head->prologue(x, hooks);
        if (hooks.input)
            h = hooks.input(m_head->module(), h);
        return m_headWeights.logits(h).contiguous();
    }

    std::unique_ptr<ModelBlocks> m_blocks;
    std::vector<std::unique_ptr<Block>> m_layers;
    std::unique_ptr<Head> m_head;
    HeadChunk m_headWeights;
};

} // namespace

std::unique_ptr<LanguageModel> loadLanguageModel(
    const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform)
{
    return std::make_unique<ResidentModel>(checkpoint, config, transform);
}

} // namespace qs
