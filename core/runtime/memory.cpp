// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/memory.h"

#include "error.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace qs {
namespace {

// A "Key:   123 kB" line of a /proc file, in bytes; 0 when absent.
std::uint64_t procField(const char* file, const std::string& key)
{
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
            std::istringstream fields(line.substr(key.size() + 1));
            std::uint64_t kib = 0;
            fields >> kib;
            return kib * 1024;
        }
    }
    return 0;
}

} // namespace

std::uint64_t peakRssBytes()
{
    return procField("/proc/self/status", "VmHWM");
}

std::uint64_t currentRssBytes()
{
    return procField("/proc/self/status", "VmRSS");
}

std::uint64_t defaultMemoryLimit()
{
    const std::uint64_t available = procField("/proc/meminfo", "MemAvailable");
    const std::uint64_t spare = available > 0 ? available / 5 * 4 : std::uint64_t(4) << 30;
    return spare + currentRssBytes();
}

std::uint64_t parseByteSize(const std::string& text, const std::string& option)
{
    auto bad = [&] {
        return UsageError(option + ": '" + text + "' is not a size (examples: 4096, 800M, 1.5G)");
    };
    std::size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        throw bad();
    }
    std::string unit = text.substr(used);
    for (char& ch : unit)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (unit.size() > 1 && (unit.substr(1) == "B" || unit.substr(1) == "IB"))
        unit = unit.substr(0, 1);
    double scale = 1;
    if (unit == "K")
        scale = 1024.0;
    else if (unit == "M")
        scale = 1024.0 * 1024;
    else if (unit == "G")
        scale = 1024.0 * 1024 * 1024;
    else if (unit == "T")
        scale = 1024.0 * 1024 * 1024 * 1024;
    else if (!unit.empty() && unit != "B")
        throw bad();
    if (!std::isfinite(value) || value <= 0 || value * scale > 1.8e19)
        throw bad();
    return static_cast<std::uint64_t>(value * scale);
}

std::string formatBytes(std::uint64_t bytes)
{
    const char* units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char out[32];
    std::snprintf(out, sizeof out, u == 0 ? "%.0f %s" : (v < 10 ? "%.2f %s" : "%.0f %s"), v, units[u]);
    return out;
}

} // namespace qs
