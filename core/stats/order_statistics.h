// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to core/stats: exact order statistics (the k-th smallest finite value) of a tensor
// whose values have been counted in fine bins, without sorting or copying the tensor.
#include "stats/value_source.h"

#include <vector>

namespace qs::detail {

// The value of each rank (0-based among the finite values, ascending). `fineCounts` are the
// counts of `fine`'s bins over the finite values. The values in the bins holding the ranks are
// collected and sorted when there are at most a few million of them; a heavier bin (a spike:
// zeros of a pruned weight, a constant row) is narrowed with further histogram passes inside
// it until its values are equal or few. Throws CancelledError, or FormatError when the counts
// no longer add up (the file changed while it was read).
std::vector<double> orderStatistics(const Source& source, const Binner& fine,
    const std::vector<std::int64_t>& fineCounts, const std::vector<std::int64_t>& ranks,
    CancelToken cancel);

} // namespace qs::detail
