// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/hidden_states.h"

#include "error.h"
#include "io/anonymous_file.h"

#include <ATen/ATen.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace qs {

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
        m_fd = openAnonymousFile(m_folder, "the hidden states that do not fit in memory");
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
    readAt(m_fd, x.data_ptr(), static_cast<std::size_t>(x.numel()) * sizeof(float), s.offset,
        "spilled hidden states (" + m_folder.string() + ")");
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
    writeAt(m_fd, x.data_ptr(), static_cast<std::size_t>(x.numel()) * sizeof(float), s.offset,
        "hidden states that do not fit in memory (" + m_folder.string() + ")");
}

} // namespace qs
