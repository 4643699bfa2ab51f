// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/quantization_info.h"
#include "io/tensor_info.h"

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace at {
class Tensor;
}

namespace qs {

// An opened checkpoint: a catalog of its tensors and lazy access to each one. Opening reads
// headers only; load() maps the bytes of one tensor without reading the rest of the model.
// Immutable after open() and cheap to copy (the state is shared), so worker threads can load
// tensors concurrently.
//
// Accepted paths: a .safetensors file; a PyTorch .pt/.bin/.pth file (zip or legacy format,
// state dicts and nanoGPT ckpt.pt); a llama2.c checkpoint; a model.safetensors.index.json or
// pytorch_model.bin.index.json; or a folder holding any of them (a Hugging Face model folder,
// whose config.json is read when present). The format is recognised by content, not name.
class Checkpoint
{
public:
    static Checkpoint open(const std::filesystem::path& path);

    // "safetensors", "pytorch-zip", "pytorch-legacy" or "llama2c", with "-sharded" appended
    // for an index and its shards.
    const std::string& format() const;
    // How the tensors were organised in the file: "state_dict", "nanogpt", "checkpoint",
    // "nested" (PyTorch), "legacy"/"version 1" (llama2.c), or empty.
    const std::string& layout() const;
    // What the user should know about how the file was read: skipped optimizer state,
    // renamed tensors, ignored tables.
    const std::vector<std::string>& notes() const;
    // What the user opened, and the folder it lives in (the model folder).
    const std::filesystem::path& path() const;
    const std::filesystem::path& folder() const;
    std::vector<std::filesystem::path> dataFiles() const;

    // Every tensor, in file order (shard by shard, ascending offsets).
    const std::vector<TensorInfo>& tensors() const;
    const TensorInfo* find(std::string_view name) const;
    const TensorInfo& info(std::string_view name) const; // throws UsageError when absent
    // Stored bytes and elements of the distinct tensors (a tied copy counts once).
    std::uint64_t totalBytes() const;
    std::int64_t parameterCount() const;

    // The folder's config.json; without one, the configuration the file implies (llama2.c
    // header, nanoGPT model_args); otherwise an empty object. And its model_type.
    const nlohmann::json& config() const;
    std::string modelType() const;
    // The safetensors `__metadata__` of the first data file, or for PyTorch files the JSON text
    // of each non-tensor entry (nanoGPT's model_args, config, iter_num, ...).
    const std::map<std::string, std::string>& metadata() const;

    // A read-only CPU tensor viewing the mapped bytes (zero-copy when the data is aligned;
    // strided views keep their strides). Do not write into it; transformations return new
    // tensors. fp8 tensors have no libtorch type here: use loadFloat() or raw().
    at::Tensor load(std::string_view name) const;
    // The same view without reading its pages ahead: for gathering a few rows of a large table.
    at::Tensor loadLazy(std::string_view name) const;
    // Rows begin .. end - 1 of the first dimension, those pages read ahead (a chunk of a head).
    at::Tensor loadRows(std::string_view name, std::int64_t begin, std::int64_t end) const;
    // The values as a float32 tensor (a copy): fp8 decoded, other types converted.
    at::Tensor loadFloat(std::string_view name) const;

    // The tokenizer beside the weights: llama2.c's tokenizer.bin / tok<N>.bin (checked to
    // parse), a Hugging Face tokenizer.json, else a SentencePiece tokenizer.model, else the older
    // Hugging Face files vocab.json (when merges.txt is beside it) or vocab.txt, else a nanoGPT
    // meta.pkl (tokenize/tokenizer.h reads them all); empty when there is none.
    const std::filesystem::path& tokenizerFile() const;

    // An already-quantized checkpoint's scheme (compressed-tensors, NxD, AIU), or an empty kind.
    const QuantizationInfo& quantization() const;
    // For a quantized weight, the float values it stands for; for any other tensor, loadFloat().
    at::Tensor loadDequantized(std::string_view name) const;

    // The bytes of one tensor in row-major order, exactly as stored (any dtype, fp8 included),
    // valid while `keepAlive` is held: the mapped bytes themselves, or a gathered copy for a
    // strided view. Copying a tensor through this needs no conversion.
    struct RawBytes
    {
        std::shared_ptr<const void> keepAlive;
        const std::uint8_t* data = nullptr;
        std::uint64_t size = 0;
    };
    RawBytes raw(std::string_view name) const;

    // Tells the kernel the tensor's pages can be dropped from memory (after a streaming pass
    // has finished with it). Views still alive stay valid; their pages are re-read on access.
    void release(std::string_view name) const;

    // This checkpoint with some tensors read from another file instead (an algorithm's result:
    // SmoothQuant's smoothed norms and weights): each of `replaced` names a tensor of this
    // checkpoint with the same dtype and shape, stored contiguously at its offset in `file`.
    // UsageError for an unknown name or another dtype or shape. The original is not touched.
    // `added` are new tensors in `file` (a rotated model's untied head), `configPatch` keys that
    // override the config's (tie_word_embeddings: false); UsageError when an added name exists.
    Checkpoint withReplacedTensors(const std::filesystem::path& file, const std::vector<TensorInfo>& replaced,
        const std::vector<TensorInfo>& added = {}, const nlohmann::json& configPatch = {}) const;

    struct Impl; // defined in checkpoint.cpp

private:
    std::shared_ptr<const Impl> m_impl;
};

} // namespace qs
