#pragma once

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
// Accepted paths: a .safetensors file, a model.safetensors.index.json, or a folder holding
// either (a Hugging Face model folder; its config.json is read when present).
class Checkpoint
{
public:
    static Checkpoint open(const std::filesystem::path& path);

    // "safetensors" (one file) or "safetensors-sharded" (an index and its shards).
    const std::string& format() const;
    // What the user opened, and the folder it lives in (the model folder).
    const std::filesystem::path& path() const;
    const std::filesystem::path& folder() const;
    std::vector<std::filesystem::path> dataFiles() const;

    // Every tensor, in file order (shard by shard, ascending offsets).
    const std::vector<TensorInfo>& tensors() const;
    const TensorInfo* find(std::string_view name) const;
    const TensorInfo& info(std::string_view name) const; // throws UsageError when absent
    std::uint64_t totalBytes() const;
    std::int64_t parameterCount() const;

    // The folder's config.json (an empty object when there is none) and its model_type.
    const nlohmann::json& config() const;
    std::string modelType() const;
    // The safetensors `__metadata__` of the first data file.
    const std::map<std::string, std::string>& metadata() const;

    // A read-only CPU tensor viewing the mapped bytes (zero-copy when the data is aligned).
    // Do not write into it; transformations return new tensors.
    at::Tensor load(std::string_view name) const;

    // The stored bytes of one tensor, exactly as in the file (any dtype, fp8 included),
    // valid while `keepAlive` is held. Copying a tensor through this needs no conversion.
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

    struct Impl; // defined in checkpoint.cpp

private:
    std::shared_ptr<const Impl> m_impl;
};

} // namespace qs
