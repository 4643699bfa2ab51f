// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/safetensors_format.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace qs {

class SafetensorsWriter;

// Hugging Face's decimal "10GB".
constexpr std::uint64_t kDefaultMaxShardBytes = 10'000'000'000ULL;

// Streams tensors into `<stem>.safetensors`, or, when they exceed the shard size, into
// `<stem>-0000i-of-0000N.safetensors` plus `<stem>.safetensors.index.json` with
// `metadata.total_size` and `weight_map`, as Hugging Face's savers name them. Tensors are
// assigned to shards greedily in the order given; one larger than the limit gets a shard of
// its own. Only one shard file is open at a time.
class ShardedSafetensorsWriter
{
public:
    ShardedSafetensorsWriter(std::filesystem::path directory, std::vector<TensorSpec> tensors,
        std::uint64_t maxShardBytes = kDefaultMaxShardBytes, std::string stem = "model");
    ~ShardedSafetensorsWriter();

    void write(const std::string& name, const void* data, std::uint64_t bytes);
    void finish();

    std::size_t shardCount() const { return m_shards.size(); }
    std::vector<std::filesystem::path> files() const; // shards, then the index if any
    std::uint64_t totalBytes() const { return m_totalBytes; }

private:
    std::filesystem::path shardPath(std::size_t shard) const;
    void openShard(std::size_t shard);

    std::filesystem::path m_directory;
    std::string m_stem;
    std::vector<std::vector<TensorSpec>> m_shards;
    std::size_t m_currentShard = 0;
    std::unique_ptr<SafetensorsWriter> m_writer;
    std::uint64_t m_totalBytes = 0;
};

} // namespace qs
