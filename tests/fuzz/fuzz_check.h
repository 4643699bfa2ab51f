// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdio>
#include <cstdlib>

// A broken invariant in a fuzz target: print it and abort, which libFuzzer reports as a crash
// and saves the input as an artifact. Unlike assert(), it is active in every build type.
#define QS_FUZZ_CHECK(condition)                                                                                       \
    do {                                                                                                               \
        if (!(condition)) {                                                                                            \
            std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #condition);                \
            std::abort();                                                                                              \
        }                                                                                                              \
    } while (false)
