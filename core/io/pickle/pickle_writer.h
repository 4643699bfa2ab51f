// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

// One tensor of a state dict to pickle: where its storage is and how the tensor views it.
struct PickledTensorSpec
{
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::string storageKey; // the zip record is "data/<storageKey>"
    std::int64_t storageNumel = 0; // elements in the storage (tensors sharing it name the same key)
    std::int64_t storageOffset = 0;
    std::vector<std::int64_t> strides; // empty: contiguous
};

// The data.pkl of a torch.save'd state dict, in the form torch.save itself writes (protocol 2,
// torch._utils._rebuild_tensor_v2, typed storage classes as persistent ids), so that Python's
// torch.load(weights_only=True) accepts it. `ordered` makes it a collections.OrderedDict.
// Throws UsageError for dtypes that have no torch storage class (fp8 in PyTorch 1.13).
std::string pickleStateDict(const std::vector<PickledTensorSpec>& tensors, bool ordered);

// "FloatStorage" for F32, ...; throws UsageError when there is none.
std::string storageClassName(DType dtype);

} // namespace qs
