// SPDX-License-Identifier: GPL-3.0-or-later
#include "jobs/progress.h"

#include "error.h"

#include <algorithm>

namespace qs {

double ProgressUpdate::fraction() const
{
    double f = 0;
    if (bytesTotal > 0)
        f = static_cast<double>(bytesDone) / static_cast<double>(bytesTotal);
    else if (stepsTotal > 0)
        f = static_cast<double>(stepsDone) / static_cast<double>(stepsTotal);
    return std::clamp(f, 0.0, 1.0);
}

void Progress::checkCancelled() const
{
    if (cancelled())
        throw CancelledError();
}

void CancelToken::throwIfCancelled() const
{
    if (cancelled())
        throw CancelledError();
}

} // namespace qs
