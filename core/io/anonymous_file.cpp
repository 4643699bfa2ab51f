// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/anonymous_file.h"

#include "error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace qs {

int openAnonymousFile(const std::filesystem::path& folder, const std::string& purpose)
{
#ifdef O_TMPFILE
    const int fd = ::open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    std::string name = (folder / "quantscope-XXXXXX").string();
    const int named = ::mkstemp(name.data());
    if (named < 0)
        throw IoError::fromErrno("creating a temporary file for " + purpose, folder.string(), errno);
    ::unlink(name.c_str());
    return named;
}

void writeAt(int fd, const void* data, std::size_t bytes, std::uint64_t offset, const std::string& purpose)
{
    const auto* p = static_cast<const char*>(data);
    for (std::size_t done = 0; done < bytes;) {
        const ssize_t n = ::pwrite(fd, p + done, bytes - done, static_cast<off_t>(offset + done));
        if (n <= 0)
            throw IoError::fromErrno("writing " + purpose + " to a temporary file (is the disk full?)", {},
                n < 0 ? errno : ENOSPC);
        done += static_cast<std::size_t>(n);
    }
}

void readAt(int fd, void* data, std::size_t bytes, std::uint64_t offset, const std::string& purpose)
{
    auto* p = static_cast<char*>(data);
    for (std::size_t done = 0; done < bytes;) {
        const ssize_t n = ::pread(fd, p + done, bytes - done, static_cast<off_t>(offset + done));
        if (n <= 0)
            throw IoError::fromErrno("reading back " + purpose + " from a temporary file", {}, n < 0 ? errno : EIO);
        done += static_cast<std::size_t>(n);
    }
}

} // namespace qs
