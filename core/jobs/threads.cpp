// SPDX-License-Identifier: GPL-3.0-or-later
#include "jobs/threads.h"

#include <ATen/Parallel.h>

#include <thread>

namespace qs {

int useIntraOpThreads(int threads)
{
    const int wanted = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (at::get_num_threads() != wanted)
        at::set_num_threads(wanted);
    return at::get_num_threads();
}

} // namespace qs
