// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The process's memory as the kernel counts it, and the sizes users write ("1.5G", "800M").
#include <cstdint>
#include <string>

namespace qs {

// Peak and current resident set size of this process (VmHWM, VmRSS), 0 where unknown.
std::uint64_t peakRssBytes();
std::uint64_t currentRssBytes();
// What the machine can spare: 80% of MemAvailable plus what this process already holds.
std::uint64_t defaultMemoryLimit();

// "4096", "512K", "800M", "1.5G", "2T" (binary units, an optional trailing "B" or "iB").
// UsageError naming `option` and the text otherwise.
std::uint64_t parseByteSize(const std::string& text, const std::string& option);
// "1.50 GiB", "812 MiB", "4.0 KiB", "17 B".
std::string formatBytes(std::uint64_t bytes);

} // namespace qs
