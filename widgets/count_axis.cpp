// SPDX-License-Identifier: GPL-3.0-or-later
#include "count_axis.h"

#include "qcustomplot_include.h"

namespace qs::ui {

void setCountAxis(QCPAxis* axis, bool log, double peak, double logHeadroom, double linearHeadroom)
{
    if (log) {
        axis->setScaleType(QCPAxis::stLogarithmic);
        axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        axis->setRange(0.8, peak * logHeadroom);
    } else {
        axis->setScaleType(QCPAxis::stLinear);
        axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        axis->setRange(0, peak * linearHeadroom);
    }
}

} // namespace qs::ui
