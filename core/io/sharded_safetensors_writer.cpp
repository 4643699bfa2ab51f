// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/sharded_safetensors_writer.h"

#include "error.h"
#include "io/atomic_file.h"
#include "io/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace qs {

ShardedSafetensorsWriter::ShardedSafetensorsWriter(
    std::filesystem::path directory, std::vector<TensorSpec> tensors, std::uint64_t maxShardBytes, std::string stem)
    : m_directory(std::move(directory))
    , m_stem(std::move(stem))
{
    std::uint64_t current = 0;
    for (auto& spec : tensors) {
        const auto size = spec.bytes();
        m_totalBytes += size;
        const bool startNew = m_shards.empty() || size > maxShardBytes || current + size > maxShardBytes;
        if (startNew) {
            m_shards.emplace_back();
            current = 0;
        }
        m_shards.back().push_back(std::move(spec));
        current += size;
        if (size > maxShardBytes)
            current = maxShardBytes; // nothing else joins an oversized tensor's shard
    }
    if (m_shards.empty())
        m_shards.emplace_back();
    openShard(0);
}

ShardedSafetensorsWriter::~ShardedSafetensorsWriter() = default;

std::filesystem::path ShardedSafetensorsWriter::shardPath(std::size_t shard) const
{
    if (m_shards.size() == 1)
        return m_directory / (m_stem + ".safetensors");
    char name[64];
    std::snprintf(name, sizeof name, "-%05zu-of-%05zu.safetensors", shard + 1, m_shards.size());
    return m_directory / (m_stem + name);
}

void ShardedSafetensorsWriter::openShard(std::size_t shard)
{
    m_currentShard = shard;
    m_writer = std::make_unique<SafetensorsWriter>(shardPath(shard), m_shards[shard]);
}

void ShardedSafetensorsWriter::write(const std::string& name, const void* data, std::uint64_t bytes)
{
    while (!m_writer->next() && m_currentShard + 1 < m_shards.size()) {
        m_writer->finish();
        openShard(m_currentShard + 1);
    }
    m_writer->write(name, data, bytes);
}

void ShardedSafetensorsWriter::finish()
{
    while (m_currentShard + 1 < m_shards.size()) {
        m_writer->finish();
        openShard(m_currentShard + 1);
    }
    m_writer->finish();
    if (m_shards.size() == 1)
        return;

    nlohmann::ordered_json index;
    index["metadata"]["total_size"] = m_totalBytes;
    auto& map = index["weight_map"];
    map = nlohmann::ordered_json::object();
    for (std::size_t s = 0; s < m_shards.size(); ++s) {
        for (const auto& spec : m_shards[s])
            map[spec.name] = shardPath(s).filename().string();
    }
    writeFileAtomically(m_directory / (m_stem + ".safetensors.index.json"), index.dump(2) + "\n");
}

std::vector<std::filesystem::path> ShardedSafetensorsWriter::files() const
{
    std::vector<std::filesystem::path> out;
    for (std::size_t s = 0; s < m_shards.size(); ++s)
        out.push_back(shardPath(s));
    if (m_shards.size() > 1)
        out.push_back(m_directory / (m_stem + ".safetensors.index.json"));
    return out;
}

} // namespace qs
