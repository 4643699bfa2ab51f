// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The hidden states of a set of sequences between blocks: [tokens, hidden] float32 each, held in
// memory up to a budget and the rest in a temporary file (already unlinked, so it goes away with
// the process) that is read back and rewritten slot by slot.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <vector>

namespace qs {

class HiddenStates
{
public:
    // One slot per sequence of `lengths[i]` tokens; slots in memory while their bytes fit in
    // `memoryBudget`, the rest in a file under `spillDirectory` (the system's temporary folder
    // when empty). IoError naming the folder when the file cannot be made.
    HiddenStates(const std::vector<std::int64_t>& lengths, std::int64_t hidden, std::uint64_t memoryBudget,
        const std::filesystem::path& spillDirectory = {});
    ~HiddenStates();
    HiddenStates(const HiddenStates&) = delete;
    HiddenStates& operator=(const HiddenStates&) = delete;

    std::size_t size() const { return m_slots.size(); }
    // The slot's states (a tensor of its own for a spilled slot).
    at::Tensor get(std::size_t slot) const;
    // Replaces them; `x` must be [lengths[slot], hidden].
    void put(std::size_t slot, const at::Tensor& x);

    std::uint64_t memoryBytes() const { return m_memoryBytes; }
    std::uint64_t spilledBytes() const { return m_spilledBytes; }

private:
    struct Slot
    {
        std::int64_t tokens = 0;
        bool spilled = false;
        std::uint64_t offset = 0; // in the file
        at::Tensor states; // in memory
    };
    std::vector<Slot> m_slots;
    std::int64_t m_hidden = 0;
    std::uint64_t m_memoryBytes = 0, m_spilledBytes = 0;
    std::filesystem::path m_folder;
    int m_fd = -1;
};

} // namespace qs
