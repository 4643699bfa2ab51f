// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/pickle/pickle_object.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace qs {

// The globals a torch.save pickle may name: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 / _rebuild_parameter / _rebuild_parameter_with_state, the
// torch storage classes (torch.FloatStorage, ..., torch.UntypedStorage), _codecs.encode (how
// protocol 2 spells bytes) and set/frozenset (protocol 2 sets).
bool isAllowedTorchGlobal(const std::string& module, const std::string& name);

// What calling one of them ("module.name") with `args` means, as plain data in `document`:
// an empty OrderedDict, a Tensor referring to its Storage, a Set, Bytes. Nothing is executed.
// Throws PickleCallError when the arguments are not what torch.save writes.
class PickleCallError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};
const PickleObject* callTorchGlobal(
    PickleDocument& document, const std::string& function, const std::vector<const PickleObject*>& args);

// The dtype of a torch storage class name ("FloatStorage" -> F32), or false when unknown.
bool storageClassDType(const std::string& className, DType& dtype);

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(const std::string& text);

} // namespace qs
