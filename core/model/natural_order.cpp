// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/natural_order.h"

#include <cctype>

namespace qs {
namespace {

bool isDigit(char c)
{
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

} // namespace

bool naturalLess(std::string_view a, std::string_view b)
{
    std::size_t i = 0;
    std::size_t j = 0;
    int zeroTieBreak = 0; // <0: a had fewer leading zeros in the first differing number
    while (i < a.size() && j < b.size()) {
        if (isDigit(a[i]) && isDigit(b[j])) {
            const std::size_t si = i;
            const std::size_t sj = j;
            while (i < a.size() && a[i] == '0')
                ++i;
            while (j < b.size() && b[j] == '0')
                ++j;
            const std::size_t di = i;
            const std::size_t dj = j;
            while (i < a.size() && isDigit(a[i]))
                ++i;
            while (j < b.size() && isDigit(b[j]))
                ++j;
            const std::size_t lenA = i - di;
            const std::size_t lenB = j - dj;
            if (lenA != lenB)
                return lenA < lenB;
            const int cmp = a.substr(di, lenA).compare(b.substr(dj, lenB));
            if (cmp != 0)
                return cmp < 0;
            if (zeroTieBreak == 0 && (di - si) != (dj - sj))
                zeroTieBreak = (di - si) < (dj - sj) ? -1 : 1;
        } else {
            if (a[i] != b[j])
                return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
            ++i;
            ++j;
        }
    }
    if ((a.size() - i) != (b.size() - j))
        return (a.size() - i) < (b.size() - j);
    return zeroTieBreak < 0;
}

} // namespace qs
