// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/pickle/pickle_object.h"

#include <string>
#include <vector>

namespace qs {

// The globals pickle.dump of numpy arrays names (numpy 1.x and 2.x spellings), and what they
// mean as plain data. Nothing is imported or executed:
// - numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') is an empty Array that BUILD
//   fills with (version, shape, dtype, is_fortran, raw bytes);
// - numpy.dtype('<f4', False, True) (or ml_dtypes.bfloat16 in place of the string) is an
//   ArrayDType; its BUILD state only says the byte order, which must be little-endian;
// - numpy.core.numeric._frombuffer(bytes, dtype, shape, 'C'|'F') is protocol 5's Array;
// - collections.OrderedDict and _codecs.encode as for torch pickles.
bool isAllowedNumpyGlobal(const std::string& module, const std::string& name);

// Throws PickleCallError (torch_globals.h) when the arguments are not what numpy writes, when
// the dtype is not one QuantScope holds (structured, object, unsigned wider than a byte, ...)
// or when an array's bytes do not match its shape times its item size.
const PickleObject* callNumpyGlobal(
    PickleDocument& document, const std::string& function, const std::vector<const PickleObject*>& args);
void buildNumpyObject(PickleObject* target, const PickleObject* state);

} // namespace qs
