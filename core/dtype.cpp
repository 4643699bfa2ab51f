// SPDX-License-Identifier: GPL-3.0-or-later
#include "dtype.h"

#include <array>
#include <utility>

namespace qs {
namespace {

struct DTypeRow
{
    DType dtype;
    std::string_view name;
    std::size_t size;
    bool floating;
};

constexpr std::array<DTypeRow, 12> kDTypes { {
    { DType::F64, "F64", 8, true },
    { DType::F32, "F32", 4, true },
    { DType::F16, "F16", 2, true },
    { DType::BF16, "BF16", 2, true },
    { DType::F8_E4M3, "F8_E4M3", 1, true },
    { DType::F8_E5M2, "F8_E5M2", 1, true },
    { DType::I64, "I64", 8, false },
    { DType::I32, "I32", 4, false },
    { DType::I16, "I16", 2, false },
    { DType::I8, "I8", 1, false },
    { DType::U8, "U8", 1, false },
    { DType::BOOL, "BOOL", 1, false },
} };

const DTypeRow& row(DType dtype)
{
    return kDTypes[static_cast<std::size_t>(dtype)];
}

} // namespace

std::string_view dtypeName(DType dtype)
{
    return row(dtype).name;
}

std::optional<DType> dtypeFromName(std::string_view name)
{
    for (const auto& r : kDTypes) {
        if (r.name == name)
            return r.dtype;
    }
    return std::nullopt;
}

std::size_t dtypeSize(DType dtype)
{
    return row(dtype).size;
}

bool isFloatingPoint(DType dtype)
{
    return row(dtype).floating;
}

} // namespace qs
