// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

// One entry of a checkpoint's catalog. Plain data: widgets and the CLI show it as is.
struct TensorInfo
{
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t bytes = 0; // size of the stored data
    std::string source; // the file holding the data
    std::uint64_t offset = 0; // absolute byte offset of the first element in `source`
    // Element strides for a strided view into a larger storage (PyTorch files); empty when the
    // data is stored contiguously in row-major order.
    std::vector<std::int64_t> strides;
    // The first tensor that shares this tensor's storage (tied weights), or empty.
    std::string aliasOf;

    std::int64_t numel() const;
    bool isContiguous() const { return strides.empty(); }
};

// "[4096, 11008]" or "[]" for a scalar.
std::string formatShape(const std::vector<std::int64_t>& shape);

// Row-major strides for `shape`; `strides` equal to these means contiguous.
std::vector<std::int64_t> contiguousStrides(const std::vector<std::int64_t>& shape);

} // namespace qs
