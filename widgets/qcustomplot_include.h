// SPDX-License-Identifier: GPL-3.0-or-later
// The only way widgets/ includes QCustomPlot. Debian's qcustomplot.h uses Qt's keyword macros
// (signals, slots, emit, foreach), which the project disables with QT_NO_KEYWORDS because
// they break libtorch headers. Define them for the duration of the include only.
#pragma once

#include <QtGlobal>

#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
