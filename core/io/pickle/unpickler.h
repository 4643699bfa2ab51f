// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/pickle/pickle_object.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace qs {

// A restricted unpickler for the pickles torch.save writes (protocols 2 to 5). It builds plain
// data and never executes anything: the only globals it accepts are collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 / _rebuild_parameter / _rebuild_parameter_with_state, the
// torch storage classes (torch.FloatStorage, ..., torch.UntypedStorage) and _codecs.encode
// (how protocol 2 spells bytes), and set/frozenset (protocol 2 sets). Any other global is refused with a FormatError
// that names it.
//
// Persistent ids must be torch storage references: ('storage', <storage class>, key, location,
// numel[, None]). Each distinct (key, dtype) becomes one Storage object, so tensors that share
// a storage (tied weights) point at the same object.
//
// Hostile input gives a FormatError naming `fileName`, the byte offset and the problem: bad or
// unknown opcodes, truncation, stack underflow, memo misses, wrong argument types. Work and
// memory are bounded by the input size and `kMaxPickleObjects`.
// Which globals a pickle may name. Torch: what torch.save writes (above). NumpyArrays: what
// pickle.dump of a dict of numpy arrays writes (save_weights.py's .pkl): collections.OrderedDict,
// numpy.ndarray, numpy.dtype, numpy(._)core.multiarray._reconstruct,
// numpy(._)core.numeric._frombuffer (protocol 5), ml_dtypes.bfloat16 and _codecs.encode. Its byte
// strings are not copied: arrays point at their bytes inside the data (PickleArray::offset).
enum class PickleGlobals
{
    Torch,
    NumpyArrays,
};

struct UnpickleResult
{
    std::size_t consumed = 0; // bytes up to and including STOP (legacy files hold several pickles)
};

constexpr std::size_t kMaxPickleObjects = 5'000'000;

UnpickleResult unpickle(const std::uint8_t* data, std::size_t size, PickleDocument& document,
    const std::string& fileName, PickleGlobals globals = PickleGlobals::Torch);

} // namespace qs
