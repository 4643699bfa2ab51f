// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

namespace qs {

// Unmaps the output mappings emptyPrefaulted() keeps for reuse (see prefaulted_tensor.h). The
// conversion job calls it when it ends; the cache fills again on the next use. Thread-safe.
void releaseCachedOutputs();

} // namespace qs
