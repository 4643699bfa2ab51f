// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/safetensors_format.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qs {

// Streams one safetensors file: the header is written first from the full list of tensor
// specs, then the data of each tensor in that order, one call per tensor (or several calls
// whose sizes add up). Peak memory is the caller's buffer, never the file. An unfinished
// writer removes its file when destroyed.
class SafetensorsWriter
{
public:
    SafetensorsWriter(std::filesystem::path path, std::vector<TensorSpec> tensors,
        const std::map<std::string, std::string>& metadata = { { "format", "pt" } });
    ~SafetensorsWriter();

    SafetensorsWriter(const SafetensorsWriter&) = delete;
    SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

    // The next tensor to be written, or nullptr when all are done.
    const TensorSpec* next() const;

    // Appends bytes of the current tensor; `name` must be the current tensor's name. A tensor
    // is complete when its byte count is reached. Empty writes (and empty tensors) are no-ops.
    void write(const std::string& name, const void* data, std::uint64_t bytes);

    // Checks every tensor was written, flushes to disk and closes the file.
    void finish();

    const std::filesystem::path& path() const { return m_path; }

private:
    void writeRaw(const void* data, std::uint64_t bytes);

    std::filesystem::path m_path;
    std::vector<TensorSpec> m_tensors;
    std::size_t m_current = 0;
    std::uint64_t m_writtenOfCurrent = 0;
    int m_fd = -1;
    bool m_finished = false;
};

} // namespace qs
