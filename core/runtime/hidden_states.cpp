// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/hidden_states.h"

#include "error.h"

#include <ATen/ATen.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace qs {
namespace {

// An anonymous file in `folder`: O_TMPFILE, or a named one unlinked at once.
int openSpillFile(const std::filesystem::path& folder)
{
#ifdef O_TMPFILE
    const int fd = ::open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    std::string name = (folder / "quantscope-hidden-XXXXXX").string();
    const int named = ::mkstemp(name.data());
    if (named < 0)
        throw IoError::fromErrno("creating a file for the hidden states that do not fit in memory", folder.string(),
            errno);
    ::unlink(name.c_str());
    return named;
}

} // namespace

HiddenStates::HiddenStates(const std::vector<std::int64_t>& lengths, std::int64_t hidden, std::uint64_t memoryBudget,
    const std::filesystem::path& spillDirectory)
    : m_hidden(hidden)
    , m_folder(spillDirectory.empty() ? std::filesystem::temp_directory_path() : spillDirectory)
{
    std::uint64_t fileBytes = 0;
    for (std::int64_t tokens : lengths) {
        Slot s;
        s.tokens = tokens;
        const auto bytes = static_cast<std::uint64_t>(tokens * hidden) * sizeof(float);
        if (m_memoryBytes + bytes <= memoryBudget) {
            m_memoryBytes += bytes;
        } else {
            s.spilled = true;
            s.offset = fileBytes;
            fileBytes += bytes;
        }
        m_slots.push_back(std::move(s));
    }
    m_spilledBytes = fileBytes;
    if (fileBytes > 0)
        m_fd = openSpillFile(m_folder);
}

HiddenStates::~HiddenStates()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

at::Tensor HiddenStates::get(std::size_t slot) const
{
    const Slot& s = m_slots.at(slot);
    if (!s.spilled)
        return s.states;
    at::Tensor x = at::empty({ s.tokens, m_hidden }, at::kFloat);
    auto* data = static_cast<char*>(x.data_ptr());
    const auto bytes = static_cast<std::size_t>(x.numel()) * sizeof(float);
    for (std::size_t done = 0; done < bytes;) {
        const ssize_t n = ::pread(m_fd, data + done, bytes - done, static_cast<off_t>(s.offset + done));
        if (n <= 0)
            throw IoError::fromErrno("reading back spilled hidden states", m_folder.string(), n < 0 ? errno : EIO);
        done += static_cast<std::size_t>(n);
    }
    return x;
}

void HiddenStates::put(std::size_t slot, const at::Tensor& input)
{
    Slot& s = m_slots.at(slot);
    const at::Tensor x = input.to(at::kFloat).contiguous();
    if (x.dim() != 2 || x.size(0) != s.tokens || x.size(1) != m_hidden)
        throw UsageError("hidden states of slot " + std::to_string(slot) + " changed shape");
    if (!s.spilled) {
        s.states = x;
        return;
    }
    const auto* data = static_cast<const char*>(x.data_ptr());
    const auto bytes = static_cast<std::size_t>(x.numel()) * sizeof(float);
    for (std::size_t done = 0; done < bytes;) {
        const ssize_t n = ::pwrite(m_fd, data + done, bytes - done, static_cast<off_t>(s.offset + done));
        if (n <= 0)
            throw IoError::fromErrno("spilling hidden states to a temporary file (is the disk full?)",
                m_folder.string(), n < 0 ? errno : ENOSPC);
        done += static_cast<std::size_t>(n);
    }
}

} // namespace qs
