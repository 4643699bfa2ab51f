// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace qs {

// Writes `content` to a temporary file next to `path`, flushes it and renames it into place,
// so readers see either the old file or the complete new one.
void writeFileAtomically(const std::filesystem::path& path, const std::string& content);

// A destination folder built under a temporary name in the same parent and renamed into
// place by commit(). Destroying it without commit() (an error, a cancel) removes everything
// written so far. An existing destination is replaced only when `overwrite` is set.
// The staging folder is `.NAME.partial-PID-HOST-RANDOM`; a process that was killed leaves it
// behind, and the next AtomicOutputDir for the same destination removes those whose process
// is gone (same host only: on a shared file system another host's PID says nothing here).
class AtomicOutputDir
{
public:
    AtomicOutputDir(const std::filesystem::path& destination, bool overwrite);
    ~AtomicOutputDir();

    AtomicOutputDir(const AtomicOutputDir&) = delete;
    AtomicOutputDir& operator=(const AtomicOutputDir&) = delete;

    // Where to write while the job runs.
    const std::filesystem::path& staging() const { return m_staging; }
    const std::filesystem::path& destination() const { return m_destination; }

    void commit();

    // Staging folders of dead conversions to the same destination that the constructor removed.
    const std::vector<std::filesystem::path>& removedStale() const { return m_removedStale; }

private:
    std::filesystem::path m_destination;
    std::vector<std::filesystem::path> m_removedStale;
    std::filesystem::path m_staging;
    bool m_overwrite = false;
    bool m_committed = false;
};

// Throws UsageError when writing to `destination` could modify `source` (the same path, or
// the source inside the destination).
void ensureDoesNotTouchInput(const std::filesystem::path& source, const std::filesystem::path& destination);

} // namespace qs
