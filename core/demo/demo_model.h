// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <array>
#include <filesystem>

namespace qs {

// The built-in demo model: a small Llama-shaped Hugging Face folder (config.json +
// model.safetensors, bf16) written deterministically from a fixed seed, with structure that
// makes quantization choices visible:
//  - layers 1 and 2 have a few outlier input channels in q/k/v and gate/up (as real LLMs
//    have after the norms), which coarsen their per-channel int8 steps;
//  - model.layers.3.mlp.down_proj is narrow: a tight bulk with one large spike per row, so
//    its int8 codes use only a few levels (the IBM AIU "narrow weight" case).
struct DemoModel
{
    static constexpr int kHiddenSize = 256;
    static constexpr int kIntermediateSize = 704;
    static constexpr int kLayers = 4;
    static constexpr int kHeads = 8;
    static constexpr int kKvHeads = 4;
    static constexpr int kVocab = 512;
    static constexpr int kVersion = 1; // bump when the generated weights change

    static constexpr std::array<int, 2> kOutlierLayers = { 1, 2 };
    static constexpr std::array<int, 3> kOutlierChannels = { 17, 133, 201 };
    static constexpr const char* kNarrowModule = "model.layers.3.mlp.down_proj";
};

// Writes the demo model into `directory` (atomically; replaced only when `overwrite`).
void writeDemoModel(const std::filesystem::path& directory, bool overwrite = false);

// True when `directory` holds a demo model of the current version.
bool isCurrentDemoModel(const std::filesystem::path& directory);

} // namespace qs
