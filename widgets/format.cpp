// SPDX-License-Identifier: GPL-3.0-or-later
#include "format.h"

#include <QLocale>
#include <QStringList>

#include <cmath>

namespace qs::ui {

QString formatCount(std::int64_t count)
{
    const double c = static_cast<double>(count);
    if (std::llabs(count) < 1000)
        return QString::number(count);
    if (std::fabs(c) < 1e6)
        return QStringLiteral("%1 K").arg(c / 1e3, 0, 'f', 1);
    if (std::fabs(c) < 1e9)
        return QStringLiteral("%1 M").arg(c / 1e6, 0, 'f', 2);
    return QStringLiteral("%1 B").arg(c / 1e9, 0, 'f', 2);
}

QString formatBytes(std::uint64_t bytes)
{
    const double b = static_cast<double>(bytes);
    if (bytes < 1000)
        return QStringLiteral("%1 B").arg(bytes);
    if (b < 1e6)
        return QStringLiteral("%1 KB").arg(b / 1e3, 0, 'f', 1);
    if (b < 1e9)
        return QStringLiteral("%1 MB").arg(b / 1e6, 0, 'f', 1);
    return QStringLiteral("%1 GB").arg(b / 1e9, 0, 'f', 2);
}

QString formatShape(const std::vector<std::int64_t>& shape)
{
    if (shape.empty())
        return QStringLiteral("scalar");
    QStringList parts;
    for (auto d : shape)
        parts << QString::number(d);
    return parts.join(QStringLiteral(" × "));
}

QString dtypeText(DType dtype)
{
    const auto name = dtypeName(dtype);
    return QString::fromLatin1(name.data(), static_cast<int>(name.size()));
}

QString formatNumber(double value, int precision)
{
    if (std::isinf(value))
        return value > 0 ? QStringLiteral("∞") : QStringLiteral("-∞");
    if (std::isnan(value))
        return QStringLiteral("NaN");
    return QString::number(value, 'g', precision);
}

} // namespace qs::ui
