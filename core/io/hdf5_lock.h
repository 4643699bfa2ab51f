// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <mutex>

namespace qs {

// Debian's libhdf5 is not built thread-safe, and an HDF5 export job can run while the GUI
// saves or opens an activation capture: every use of the HDF5 library in the process holds
// this lock (a library-wide resource, so one lock for the process).
std::mutex& hdf5Mutex();

} // namespace qs
