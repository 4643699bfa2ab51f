// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace qs {

// Element types of checkpoint tensors, named as in the safetensors format. Plain data: usable
// from widgets/ without libtorch.
enum class DType : std::uint8_t
{
    F64,
    F32,
    F16,
    BF16,
    F8_E4M3,
    F8_E5M2,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
};

// The safetensors tag ("F32", "BF16", "I8", ...).
std::string_view dtypeName(DType dtype);
std::optional<DType> dtypeFromName(std::string_view name);
std::size_t dtypeSize(DType dtype);
bool isFloatingPoint(DType dtype);

} // namespace qs
