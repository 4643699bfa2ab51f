// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/hdf5_lock.h"

namespace qs {

std::mutex& hdf5Mutex()
{
    static std::mutex mutex;
    return mutex;
}

} // namespace qs
