// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Small random models of each family the runtime runs, written as Hugging Face folders
// (config.json + model.safetensors): for tests of the runtime's mechanics.
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <utility>

namespace qs::test {

struct GeneratedModel
{
    GeneratedModel(std::string family = "llama", int layers = 2)
        : family(std::move(family))
        , layers(layers)
    {
    }

    std::string family; // "llama", "gpt2" (Hugging Face, Conv1D) or "bert"
    int layers;
    std::int64_t hidden = 64;
    std::int64_t intermediate = 176;
    std::int64_t heads = 4;
    std::int64_t kvHeads = 2; // llama only
    std::int64_t vocab = 96;
    bool bf16 = false;
    std::uint64_t seed = 1;
    // > 0: the layers' norms (input_layernorm and post_attention_layernorm, ln_1 and ln_2) carry
    // this factor on channels 3, 17 and 40, so their outputs have the activation outlier
    // channels of real LLMs.
    float normOutliers = 0;
    std::set<std::string> omit; // tensors left out (a damaged checkpoint)
    // 2-D weights whose rows each carry one element 30 times larger (column (7 r) mod cols of row
    // r): per-channel or per-group int4 then rounds the rest of the row to few codes, a module that
    // quantization breaks.
    std::set<std::string> spiked;
    bool tied = false; // llama: no lm_head.weight, tie_word_embeddings true
};

// Writes the model into `folder` (created). Weights N(0, 0.05), norms around 1.
void writeGeneratedModel(const std::filesystem::path& folder, const GeneratedModel& model);
// `folder`, written with the model unless it exists already (tests that reuse one).
std::filesystem::path generatedModelIn(const std::filesystem::path& folder, const GeneratedModel& model);

} // namespace qs::test
