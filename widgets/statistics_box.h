// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "stats/tensor_statistics.h"

#include <QWidget>

class QLabel;

namespace qs::ui {

// A compact table of a tensor's distribution: min, max, mean, std, excess kurtosis, count,
// sparsity, the share of outliers beyond outlierSigmas σ and the percentiles, three pairs
// per row. Numbers never wrap; the text can be selected and copied.
class StatisticsBox : public QWidget
{
    Q_OBJECT
public:
    explicit StatisticsBox(QWidget* parent = nullptr);

    void setStatistics(const TensorStatistics& statistics);
    // Shows a dash in place of the table (no tensor, or still computing).
    void clear();
    bool hasData() const { return m_hasData; }
    // The rich text shown (for tests and copying).
    QString text() const;

private:
    QLabel* m_label = nullptr;
    bool m_hasData = false;
};

} // namespace qs::ui
