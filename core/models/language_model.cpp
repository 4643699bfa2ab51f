// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/language_model.h"

#include "error.h"
#include "models/bert_model.h"
#include "models/gpt2_model.h"
#include "models/llama_model.h"

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

std::vector<std::int64_t> LanguageModel::greedy(std::vector<std::int64_t> prompt, int steps) const
{
    const ModelConfig& c = config();
    if (!c.causal())
        throw UsageError("a " + c.modelType + " model is an encoder: it scores masked tokens and does not generate");
    for (int s = 0; s < steps && static_cast<std::int64_t>(prompt.size()) < c.maxPositions; ++s) {
        const at::Tensor logits = forward(prompt);
        const std::int64_t next = logits[-1].argmax().item<std::int64_t>();
        prompt.push_back(next);
        if (next == c.eosToken || (c.family == ModelFamily::Llama && next == c.bosToken)) // llama2.c ends a story with BOS
            break;
    }
    return prompt;
}

std::unique_ptr<LanguageModel> loadLanguageModel(
    const Checkpoint& checkpoint, const ModelConfig& config, const WeightTransform& transform)
{
    switch (config.family) {
    case ModelFamily::Llama:
        return std::make_unique<LlamaModel>(LlamaModel::load(checkpoint, config, transform));
    case ModelFamily::Gpt2:
        return std::make_unique<Gpt2Model>(Gpt2Model::load(checkpoint, config, transform));
    case ModelFamily::Bert:
        return std::make_unique<BertModel>(BertModel::load(checkpoint, config, transform));
    }
    throw UsageError("no runtime for model type '" + config.modelType + "'");
}

} // namespace qs
