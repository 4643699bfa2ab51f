// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

class QCPAxis;

namespace qs::ui {

// The y axis of a plot of counts: logarithmic from 0.8 (so that a single count shows) up to
// peak x logHeadroom, or linear from 0 up to peak x linearHeadroom. The caller replots.
void setCountAxis(QCPAxis* axis, bool log, double peak, double logHeadroom, double linearHeadroom);

} // namespace qs::ui
