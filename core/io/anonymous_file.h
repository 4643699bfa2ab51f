// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <filesystem>
#include <string>

namespace qs {

// A file in `folder` that has no name (O_TMPFILE, or a named one unlinked at once), so it goes
// away with its descriptor however the process ends. IoError naming `purpose` and the folder.
int openAnonymousFile(const std::filesystem::path& folder, const std::string& purpose);

// Writes all of `bytes` at `offset` / reads them back; IoError naming `purpose` on failure.
void writeAt(int fd, const void* data, std::size_t bytes, std::uint64_t offset, const std::string& purpose);
void readAt(int fd, void* data, std::size_t bytes, std::uint64_t offset, const std::string& purpose);

} // namespace qs
