// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace qs {

// The values a restricted unpickler can produce from what torch.save writes. Nothing here is
// ever executed: the few callables torch.save uses (OrderedDict, _rebuild_tensor_v2, ...)
// are recognised by name and turned into plain data.
enum class PickleKind : std::uint8_t
{
    None,
    Bool,
    Int,
    Float,
    String, // a Python str (UTF-8)
    Bytes, // bytes, bytearray, or a protocol-0/1 byte string
    List,
    Tuple,
    Set,
    Dict, // dict and collections.OrderedDict (see `ordered`)
    Global, // an allowed class or function, before it is called; `text` is "module.name"
    Storage, // a tensor storage, from a persistent id
    Tensor, // torch._utils._rebuild_tensor_v2 (or a Parameter)
    ArrayDType, // numpy.dtype('i1'), ... (numpy-array pickles only)
    Array, // a numpy.ndarray whose bytes are in the pickle stream (numpy-array pickles only)
};

struct PickleObject;

// Where a storage's bytes are: resolved by the container reader (zip record or legacy offset).
struct PickleStorage
{
    std::string key; // the persistent-id key: a zip record name ("data/<key>") or a legacy id
    DType dtype = DType::U8;
    std::int64_t numel = 0; // elements of `dtype`
    std::string location; // "cpu", "cuda:0", ...
};

struct PickleTensor
{
    const PickleObject* storage = nullptr; // kind Storage
    std::int64_t storageOffset = 0; // in elements
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;
    bool requiresGrad = false;
    bool parameter = false;
};

// A numpy array: its element type, shape and where its bytes lie in the pickled data (never
// copied). `defined` is false between _reconstruct (an empty array) and its BUILD.
struct PickleArray
{
    DType dtype = DType::U8;
    std::string descr; // numpy's type string: "i1", "<f4", "bfloat16"
    std::vector<std::int64_t> shape;
    bool fortran = false; // column-major bytes
    std::uint64_t offset = 0; // of the first byte, from the start of the pickled data
    std::uint64_t bytes = 0;
    bool defined = false;
};

struct PickleObject
{
    PickleKind kind = PickleKind::None;
    bool boolean = false;
    std::int64_t integer = 0;
    double real = 0;
    std::string text; // String, Bytes, Global; an Int wider than 64 bits as hex ("0x1950a8...")
    std::vector<const PickleObject*> items; // List, Tuple, Set
    std::vector<std::pair<const PickleObject*, const PickleObject*>> entries; // Dict, in insertion order
    bool ordered = false; // a collections.OrderedDict
    const PickleObject* state = nullptr; // BUILD state (an OrderedDict's attributes, e.g. _metadata)
    PickleStorage storage;
    PickleTensor tensor;
    PickleArray array; // Array; for ArrayDType only dtype and descr
    // Bytes of a numpy-array pickle are not copied into `text`: they stay in the data at
    // `dataOffset` (from its start), `dataSize` long.
    bool external = false;
    std::uint64_t dataOffset = 0;
    std::uint64_t dataSize = 0;

    bool isString() const { return kind == PickleKind::String; }
    // The value for a string key of a Dict, or nullptr.
    const PickleObject* get(const std::string& key) const;
};

// Owns every object of one unpickled stream; objects point at each other with raw pointers
// (memo references and even cycles are fine, nothing is freed until the document is).
class PickleDocument
{
public:
    PickleObject* make(PickleKind kind);
    const PickleObject* root() const { return m_root; }
    void setRoot(const PickleObject* root) { m_root = root; }
    std::size_t objectCount() const { return m_objects.size(); }

private:
    std::deque<PickleObject> m_objects;
    const PickleObject* m_root = nullptr;
};

// A short description for error messages: "str 'abc'", "dict (3 entries)", "global os.system".
std::string describePickleObject(const PickleObject* object);

} // namespace qs
