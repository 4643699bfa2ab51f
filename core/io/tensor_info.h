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
    std::uint64_t offset = 0; // absolute byte offset of the data in `source`

    std::int64_t numel() const;
};

// "[4096, 11008]" or "[]" for a scalar.
std::string formatShape(const std::vector<std::int64_t>& shape);

} // namespace qs
