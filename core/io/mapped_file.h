// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace qs {

// A whole file mapped read-only into memory. Pages are read lazily by the kernel, so opening
// a 10 GB shard costs nothing until its bytes are touched. Shared by every tensor view that
// points into it; the mapping lives as long as the last view.
class MappedFile
{
public:
    static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
    ~MappedFile();

    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::uint8_t* data() const { return m_data; }
    std::uint64_t size() const { return m_size; }
    const std::filesystem::path& path() const { return m_path; }

    // Hint that [offset, offset+length) will be read soon, or is no longer needed.
    void willNeed(std::uint64_t offset, std::uint64_t length) const;
    void dontNeed(std::uint64_t offset, std::uint64_t length) const;
    // Maps [offset, offset+length) in one call (MADV_POPULATE_READ) so that reading it takes no
    // page faults, which cost microseconds each in virtual machines; a hint, errors ignored.
    void populate(std::uint64_t offset, std::uint64_t length) const;

private:
    MappedFile() = default;

    std::filesystem::path m_path;
    const std::uint8_t* m_data = nullptr;
    std::uint64_t m_size = 0;
};

} // namespace qs
