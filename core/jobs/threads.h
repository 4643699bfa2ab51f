// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

namespace qs {

// Lets libtorch's intra-op pool (at::parallel_for, used by the quantizer's row loops) use every
// core. Debian's libtorch starts with one thread on some machines; the app and the CLI call this
// once at start-up. `threads` <= 0 means one per core. Returns the count now in use.
int useIntraOpThreads(int threads = 0);

} // namespace qs
