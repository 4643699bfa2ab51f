// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What the benchmarks share: timing and the --name value arguments.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>

namespace qs::bench {

// The best wall time of `repeat` runs of `f`, in seconds.
inline double bestSeconds(const std::function<void()>& f, int repeat)
{
    double best = 1e30;
    for (int i = 0; i < repeat; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

// Reads "--rows N --cols N --repeat N" style pairs into the given variables.
inline void readSizeArguments(int argc, char** argv, long long& rows, long long& cols, int& repeat)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--rows")
            rows = std::atoll(argv[i + 1]);
        else if (a == "--cols")
            cols = std::atoll(argv[i + 1]);
        else if (a == "--repeat")
            repeat = std::atoi(argv[i + 1]);
    }
}

} // namespace qs::bench
