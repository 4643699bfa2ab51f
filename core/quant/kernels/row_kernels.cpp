// SPDX-License-Identifier: GPL-3.0-or-later
#include "quant/kernels/row_kernels.h"

#include <cstdlib>
#include <cstring>

namespace qs::kernels {

namespace generic {
const Table& table();
}
namespace avx2 {
const Table& table();
}
namespace avx512 {
const Table& table();
}

namespace {

bool hasAvx2()
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

bool hasAvx512()
{
    return hasAvx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

const Table& choose()
{
    __builtin_cpu_init();
    const char* forced = std::getenv("QS_KERNELS");
    const bool any = forced == nullptr || *forced == '\0';
    if ((any || std::strcmp(forced, "avx512") == 0) && hasAvx512())
        return avx512::table();
    if ((any || std::strcmp(forced, "avx2") == 0 || std::strcmp(forced, "avx512") == 0) && hasAvx2())
        return avx2::table();
    return generic::table();
}

} // namespace

const Table& best()
{
    static const Table& chosen = choose();
    return chosen;
}

int availableTables(const Table* out[], int capacity)
{
    __builtin_cpu_init();
    int n = 0;
    if (n < capacity)
        out[n++] = &generic::table();
    if (n < capacity && hasAvx2())
        out[n++] = &avx2::table();
    if (n < capacity && hasAvx512())
        out[n++] = &avx512::table();
    return n;
}

} // namespace qs::kernels
