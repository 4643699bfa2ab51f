// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/safetensors_writer.h"

#include "error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace qs {

SafetensorsWriter::SafetensorsWriter(
    std::filesystem::path path, std::vector<TensorSpec> tensors, const std::map<std::string, std::string>& metadata)
    : m_path(std::move(path))
    , m_tensors(std::move(tensors))
{
    const std::string header = serializeSafetensorsHeader(m_tensors, metadata);
    m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (m_fd < 0)
        throw IoError::fromErrno("creating the file", m_path.string(), errno);
    writeRaw(header.data(), header.size());
    while (m_current < m_tensors.size() && m_tensors[m_current].bytes() == 0)
        ++m_current;
}

SafetensorsWriter::~SafetensorsWriter()
{
    if (m_fd >= 0)
        ::close(m_fd);
    if (!m_finished) {
        std::error_code ignored;
        std::filesystem::remove(m_path, ignored);
    }
}

const TensorSpec* SafetensorsWriter::next() const
{
    return m_current < m_tensors.size() ? &m_tensors[m_current] : nullptr;
}

void SafetensorsWriter::write(const std::string& name, const void* data, std::uint64_t bytes)
{
    if (bytes == 0)
        return; // nothing to append (empty tensors take no room in the data section)
    const TensorSpec* spec = next();
    if (!spec)
        throw UsageError("all tensors of the file are already written", ErrorContext { m_path.string(), name, {} });
    if (spec->name != name)
        throw UsageError("tensors must be written in header order; expected '" + spec->name + "'",
            ErrorContext { m_path.string(), name, {} });
    if (m_writtenOfCurrent + bytes > spec->bytes())
        throw UsageError("more bytes than the header declares (" + std::to_string(spec->bytes()) + ")",
            ErrorContext { m_path.string(), name, {} });
    writeRaw(data, bytes);
    m_writtenOfCurrent += bytes;
    if (m_writtenOfCurrent == spec->bytes()) {
        m_writtenOfCurrent = 0;
        ++m_current;
        while (m_current < m_tensors.size() && m_tensors[m_current].bytes() == 0)
            ++m_current;
    }
}

void SafetensorsWriter::finish()
{
    if (const TensorSpec* spec = next())
        throw UsageError(
            "file closed before all tensors were written", ErrorContext { m_path.string(), spec->name, {} });
    if (::fsync(m_fd) != 0)
        throw IoError::fromErrno("flushing the file to disk", m_path.string(), errno);
    const int fd = m_fd;
    m_fd = -1;
    if (::close(fd) != 0)
        throw IoError::fromErrno("closing the file", m_path.string(), errno);
    m_finished = true;
}

void SafetensorsWriter::writeRaw(const void* data, std::uint64_t bytes)
{
    const auto* p = static_cast<const char*>(data);
    while (bytes > 0) {
        const auto chunk = std::min<std::uint64_t>(bytes, 1u << 30);
        const ssize_t n = ::write(m_fd, p, chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw IoError::fromErrno("writing", m_path.string(), errno);
        }
        p += n;
        bytes -= static_cast<std::uint64_t>(n);
    }
}

} // namespace qs
