// SPDX-License-Identifier: GPL-3.0-or-later
#include "statistics_box.h"

#include "format.h"

#include <QLabel>
#include <QVBoxLayout>

#include <utility>
#include <vector>

namespace qs::ui {
namespace {

constexpr int kPairsPerRow = 3;

QString percentText(double fraction)
{
    return formatNumber(100.0 * fraction, 3) + QStringLiteral("&nbsp;%");
}

// Non-breaking: a number must never be split across lines.
QString cell(const QString& name, const QString& value)
{
    return QStringLiteral("<td style=\"white-space:nowrap; color:#555; padding-right:4px\">%1</td>"
                          "<td align=\"right\" style=\"white-space:nowrap; padding-right:14px\">%2</td>")
        .arg(name, value);
}

} // namespace

StatisticsBox::StatisticsBox(QWidget* parent)
    : QWidget(parent)
    , m_label(new QLabel(this))
{
    m_label->setTextFormat(Qt::RichText);
    m_label->setWordWrap(false);
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_label->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_label);
    clear();
}

void StatisticsBox::setStatistics(const TensorStatistics& s)
{
    std::vector<std::pair<QString, QString>> pairs = {
        { tr("min"), formatNumber(s.min) },
        { tr("max"), formatNumber(s.max) },
        { tr("mean"), formatNumber(s.mean) },
        { tr("std"), formatNumber(s.std) },
        { tr("kurtosis"), formatNumber(s.kurtosis) },
        { tr("count"), formatCount(s.count) },
        { tr("zeros"), percentText(s.sparsity()) },
        { tr("beyond %1&nbsp;σ").arg(formatNumber(s.outlierSigmas, 3)), percentText(s.outlierShare()) },
    };
    // The percentiles start on a row of their own.
    while (pairs.size() % kPairsPerRow != 0)
        pairs.emplace_back();
    for (const auto& p : s.percentiles)
        pairs.emplace_back(QStringLiteral("p%1").arg(QString::number(p.percent, 'g', 6)), formatNumber(p.value));

    QString html = QStringLiteral("<table cellspacing=\"0\" cellpadding=\"1\">");
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (i % kPairsPerRow == 0)
            html += QStringLiteral("<tr>");
        html += cell(pairs[i].first, pairs[i].second);
        if (i % kPairsPerRow == kPairsPerRow - 1 || i + 1 == pairs.size())
            html += QStringLiteral("</tr>");
    }
    html += QStringLiteral("</table>");
    m_label->setText(html);
    m_label->setToolTip(tr("%1 values, %2 exactly zero, %3 more than %4 standard deviations from the mean.\n"
                           "std is unbiased; kurtosis is the excess kurtosis (0 for a Gaussian, large for heavy "
                           "tails).\npN: the value below which N % of the values lie.")
                            .arg(s.count)
                            .arg(s.zeros)
                            .arg(s.outliers)
                            .arg(formatNumber(s.outlierSigmas, 3)));
    m_hasData = true;
}

void StatisticsBox::clear()
{
    m_label->setText(QStringLiteral("<span style=\"color:#777\">%1</span>").arg(tr("No statistics")));
    m_label->setToolTip(QString());
    m_hasData = false;
}

QString StatisticsBox::text() const
{
    return m_label->text();
}

} // namespace qs::ui
