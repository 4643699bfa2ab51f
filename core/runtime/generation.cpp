// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/generation.h"

#include "error.h"
#include "jobs/progress.h"
#include "models/block.h"
#include "runtime/memory.h"

#include <ATen/ATen.h>

namespace qs {

std::vector<std::int64_t> generateGreedy(
    const ModelBlocks& model, std::vector<std::int64_t> prompt, const GenerationOptions& options, Progress& progress)
{
    const ModelConfig& c = model.config();
    if (!c.causal())
        throw UsageError("a " + c.modelType + " model is an encoder: it scores masked tokens and does not generate");
    if (prompt.empty())
        throw UsageError("generation needs a prompt of at least one token");
    const std::uint64_t limit = options.maxMemory > 0 ? options.maxMemory : defaultMemoryLimit();
    // Layers stay loaded while they fit in half of what is left (the rest: caches, the head chunk).
    const std::uint64_t base = currentRssBytes();
    std::uint64_t budget = limit > base ? (limit - base) / 2 : 0;
    std::vector<std::unique_ptr<Block>> resident(static_cast<std::size_t>(model.layerCount()));
    std::vector<KvCache> caches(resident.size());
    const std::unique_ptr<Head> head = model.loadHead();
    ProgressUpdate update;
    update.stepsTotal = options.steps;
    std::vector<std::int64_t> input = prompt;
    for (int s = 0; s < options.steps && static_cast<std::int64_t>(prompt.size()) < c.maxPositions; ++s) {
        progress.checkCancelled();
        const auto position = static_cast<std::int64_t>(prompt.size() - input.size());
        at::Tensor x = model.embed(input, position);
        for (std::size_t i = 0; i < resident.size(); ++i) {
            std::unique_ptr<Block> streamed;
            const Block* block = resident[i].get();
            if (!block) {
                streamed = model.loadLayer(static_cast<std::int64_t>(i));
                model.release(*streamed);
                if (streamed->bytes() <= budget) {
                    budget -= streamed->bytes();
                    resident[i] = std::move(streamed);
                }
                block = resident[i] ? resident[i].get() : streamed.get();
            }
            x = block->forward(x, position, {}, &caches[i]);
        }
        // The next token: the arg-max over the vocabulary, chunk by chunk.
        const at::Tensor h = head->prologue(x.slice(0, -1), {});
        const std::int64_t step = head->chunkRows(std::uint64_t(64) << 20);
        double best = -INFINITY;
        std::int64_t next = 0;
        for (std::int64_t begin = 0; begin < head->vocab(); begin += step) {
            const at::Tensor logits = head->logits(h, begin, std::min(head->vocab(), begin + step))[0];
            const auto [value, index] = logits.max(0);
            if (value.item<double>() > best) {
                best = value.item<double>();
                next = begin + index.item<std::int64_t>();
            }
        }
        prompt.push_back(next);
        input = { next };
        ++update.stepsDone;
        progress.report(update);
        if (next == c.eosToken || (c.family == ModelFamily::Llama && next == c.bosToken))
            break;
    }
    return prompt;
}

} // namespace qs
