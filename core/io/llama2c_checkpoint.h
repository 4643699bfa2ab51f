// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/tensor_info.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

// The header of a llama2.c checkpoint (karpathy/llama2.c export.py, read by run.c).
struct Llama2cConfig
{
    int version = 0; // 0 legacy (7 ints, no magic), 1 (256-byte header with magic "ak42")
    std::int32_t dim = 0;
    std::int32_t hiddenDim = 0;
    std::int32_t nLayers = 0;
    std::int32_t nHeads = 0;
    std::int32_t nKvHeads = 0;
    std::int32_t vocabSize = 0; // always positive here; legacy files store it negated when not shared
    std::int32_t seqLen = 0;
    bool sharedClassifier = true; // the classifier is the token embedding (no lm_head.weight)
    std::uint64_t headerBytes = 0; // 28 (legacy) or 256 (version 1)
};

// A checkpoint laid out as a catalog with Hugging Face Llama names, in file order.
struct Llama2cLayout
{
    Llama2cConfig config;
    std::vector<TensorInfo> tensors;
    std::vector<std::string> notes; // what the reader skipped or assumed, for the user
};

// The little-endian uint32 that starts version 1 and later files: the bytes "24ka".
constexpr std::uint32_t kLlama2cMagic = 0x616b3432;
constexpr std::uint64_t kLlama2cLegacyHeaderBytes = 28;
constexpr std::uint64_t kLlama2cV1HeaderBytes = 256;

// True when the bytes start like a llama2.c checkpoint: the version 1 magic, or a legacy
// 7-int header whose plausible values predict exactly `size` bytes.
bool looksLikeLlama2c(const std::uint8_t* data, std::uint64_t size);

// Parses the header held in `data` (the whole file, typically mapped) and lays out every weight
// with Hugging Face Llama names: model.embed_tokens.weight, model.layers.N.input_layernorm.weight,
// model.layers.N.self_attn.{q,k,v,o}_proj.weight, model.layers.N.post_attention_layernorm.weight,
// model.layers.N.mlp.{gate,down,up}_proj.weight (w1, w2, w3), model.norm.weight, and
// lm_head.weight when the classifier is not shared. Every tensor is F32 [out, in] (norms
// [dim]) at its absolute offset in `fileName`; stacked per-layer arrays become one tensor per
// layer. The legacy RoPE tables are skipped (see notes). Throws FormatError naming the file and
// the problem: a short file, impossible or overflowing sizes, a size that disagrees with the
// header, an unsupported version (2 is the int8 Q8_0 export).
// True when the first 28 bytes are a self-consistent legacy header, whatever the file size:
// parseLlama2c then explains a size mismatch better than "unknown format" would.
bool hasPlausibleLlama2cHeader(const std::uint8_t* data, std::uint64_t size);

Llama2cLayout parseLlama2c(const std::uint8_t* data, std::uint64_t size, const std::string& fileName);

// A Hugging Face style config.json for the model ("model_type": "llama"). llama2.c applies RoPE
// to interleaved pairs (x[2i], x[2i+1]), unlike HF's rotate_half, and the q/k rows are stored
// unpermuted, so the config says "quantscope_rope_layout": "interleaved".
nlohmann::json llama2cHfConfig(const Llama2cConfig& config);

} // namespace qs
