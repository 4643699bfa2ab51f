// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Greedy decoding of a model of any size: a KV cache per layer, the layers kept loaded while
// they fit the memory limit and the rest loaded again (from the page cache) at every token.
#include <cstdint>
#include <vector>

namespace qs {

class ModelBlocks;
class Progress;

struct GenerationOptions
{
    int steps = 0; // tokens to append at most
    std::uint64_t maxMemory = 0; // 0: what the machine can spare
};

// Appends up to `steps` greedy tokens to `prompt`, stopping after EOS (or BOS, which llama2.c
// emits between stories) or at the model's context. UsageError for an encoder or an empty prompt.
// Progress counts tokens; cancellation between tokens.
std::vector<std::int64_t> generateGreedy(
    const ModelBlocks& model, std::vector<std::int64_t> prompt, const GenerationOptions& options, Progress& progress);

} // namespace qs
