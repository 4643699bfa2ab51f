// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/mapped_file.h"

#include "error.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace qs {
namespace {

constexpr std::uint64_t kPageSize = 4096;

void advise(const std::uint8_t* base, std::uint64_t size, std::uint64_t offset, std::uint64_t length, int advice)
{
    if (!base || offset >= size || length == 0)
        return;
    const std::uint64_t begin = offset / kPageSize * kPageSize;
    const std::uint64_t end = std::min(size, offset + length);
    ::madvise(const_cast<std::uint8_t*>(base) + begin, end - begin, advice);
}

} // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw IoError::fromErrno("opening the file", path.string(), errno);

    struct stat st
    { };
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw IoError::fromErrno("reading the file size", path.string(), err);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw IoError("not a regular file", ErrorContext { path.string(), {}, {} });
    }

    std::shared_ptr<MappedFile> file(new MappedFile);
    file->m_path = path;
    file->m_size = static_cast<std::uint64_t>(st.st_size);
    if (file->m_size > 0) {
        void* p = ::mmap(nullptr, file->m_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw IoError::fromErrno("mapping the file into memory", path.string(), err);
        }
        file->m_data = static_cast<const std::uint8_t*>(p);
    }
    ::close(fd); // the mapping keeps the file alive
    return file;
}

MappedFile::~MappedFile()
{
    if (m_data)
        ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
}

void MappedFile::willNeed(std::uint64_t offset, std::uint64_t length) const
{
    advise(m_data, m_size, offset, length, MADV_WILLNEED);
}

void MappedFile::populate(std::uint64_t offset, std::uint64_t length) const
{
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 // Linux 5.14
#endif
    advise(m_data, m_size, offset, length, MADV_POPULATE_READ);
}

void MappedFile::dontNeed(std::uint64_t offset, std::uint64_t length) const
{
    advise(m_data, m_size, offset, length, MADV_DONTNEED);
}

} // namespace qs
