// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/torch_dtype.h"

#include "error.h"

namespace qs {

c10::ScalarType toScalarType(DType dtype)
{
    switch (dtype) {
    case DType::F64:
        return c10::ScalarType::Double;
    case DType::F32:
        return c10::ScalarType::Float;
    case DType::F16:
        return c10::ScalarType::Half;
    case DType::BF16:
        return c10::ScalarType::BFloat16;
    case DType::I64:
        return c10::ScalarType::Long;
    case DType::I32:
        return c10::ScalarType::Int;
    case DType::I16:
        return c10::ScalarType::Short;
    case DType::I8:
        return c10::ScalarType::Char;
    case DType::U8:
        return c10::ScalarType::Byte;
    case DType::BOOL:
        return c10::ScalarType::Bool;
    case DType::F8_E4M3:
    case DType::F8_E5M2:
        break;
    }
    throw FormatError(
        std::string(dtypeName(dtype)) + " tensors cannot be loaded as values yet (fp8 decoding is not implemented)");
}

DType fromScalarType(c10::ScalarType type)
{
    switch (type) {
    case c10::ScalarType::Double:
        return DType::F64;
    case c10::ScalarType::Float:
        return DType::F32;
    case c10::ScalarType::Half:
        return DType::F16;
    case c10::ScalarType::BFloat16:
        return DType::BF16;
    case c10::ScalarType::Long:
        return DType::I64;
    case c10::ScalarType::Int:
        return DType::I32;
    case c10::ScalarType::Short:
        return DType::I16;
    case c10::ScalarType::Char:
        return DType::I8;
    case c10::ScalarType::Byte:
        return DType::U8;
    case c10::ScalarType::Bool:
        return DType::BOOL;
    default:
        break;
    }
    throw UsageError(std::string("tensors of type ") + c10::toString(type) + " cannot be stored in a checkpoint");
}

} // namespace qs
