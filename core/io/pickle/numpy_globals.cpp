// SPDX-License-Identifier: GPL-3.0-or-later
// The few callables a pickle of numpy arrays names, turned into plain data: arrays that point
// at their bytes inside the pickle, and their dtypes. Nothing is ever executed.
#include "io/pickle/numpy_globals.h"

#include "io/pickle/torch_globals.h"

#include <limits>
#include <map>

namespace qs {
namespace {

bool isReconstruct(const std::string& fn)
{
    return fn == "numpy.core.multiarray._reconstruct" || fn == "numpy._core.multiarray._reconstruct";
}

bool isFromBuffer(const std::string& fn)
{
    return fn == "numpy.core.numeric._frombuffer" || fn == "numpy._core.numeric._frombuffer";
}

// numpy's type string ("<f4", "|i1", "i8") as a DType; false for what QuantScope does not hold.
bool dtypeOfDescr(std::string descr, DType& dtype)
{
    if (!descr.empty() && (descr[0] == '<' || descr[0] == '|' || descr[0] == '='))
        descr = descr.substr(1);
    static const std::map<std::string, DType> kTypes = {
        { "f8", DType::F64 },
        { "f4", DType::F32 },
        { "f2", DType::F16 },
        { "i8", DType::I64 },
        { "i4", DType::I32 },
        { "i2", DType::I16 },
        { "i1", DType::I8 },
        { "u1", DType::U8 },
        { "b1", DType::BOOL },
    };
    const auto it = kTypes.find(descr);
    if (it == kTypes.end())
        return false;
    dtype = it->second;
    return true;
}

std::vector<std::int64_t> shapeOf(const PickleObject* o)
{
    if (o->kind != PickleKind::Tuple && o->kind != PickleKind::List)
        throw PickleCallError("an array's shape is " + describePickleObject(o) + ", not a tuple");
    std::vector<std::int64_t> shape;
    for (const PickleObject* d : o->items) {
        if (d->kind != PickleKind::Int || d->integer < 0)
            throw PickleCallError("an array's shape holds " + describePickleObject(d));
        shape.push_back(d->integer);
    }
    return shape;
}

// Shape, dtype, order and data checked against each other: the bytes are exactly
// shape x itemsize.
void defineArray(PickleObject* array, const PickleObject* shape, const PickleObject* dtype, bool fortran,
    const PickleObject* data)
{
    if (dtype->kind != PickleKind::ArrayDType)
        throw PickleCallError("an array's dtype is " + describePickleObject(dtype));
    if (data->kind == PickleKind::List)
        throw PickleCallError("an array of Python objects (dtype object) is not numeric data");
    if (data->kind != PickleKind::Bytes)
        throw PickleCallError("an array's data is " + describePickleObject(data) + ", not bytes");
    if (!data->external)
        throw PickleCallError("an array's bytes are spelled as _codecs.encode of a str (pickle protocol 2), which "
                              "QuantScope does not read in place; save the file with protocol 4 or 5");
    PickleArray& a = array->array;
    a.dtype = dtype->array.dtype;
    a.descr = dtype->array.descr;
    a.shape = shapeOf(shape);
    a.fortran = fortran;
    std::uint64_t expected = dtypeSize(a.dtype);
    for (const std::int64_t d : a.shape) {
        if (d != 0 && expected > std::numeric_limits<std::uint64_t>::max() / static_cast<std::uint64_t>(d))
            throw PickleCallError("an array's shape " + describePickleObject(shape) + " overflows");
        expected *= static_cast<std::uint64_t>(d);
    }
    if (expected != data->dataSize)
        throw PickleCallError("a numpy array of dtype " + a.descr + " and " + std::to_string(a.shape.size())
            + "-d shape needs " + std::to_string(expected) + " bytes, but its data holds "
            + std::to_string(data->dataSize));
    a.offset = data->dataOffset;
    a.bytes = data->dataSize;
    a.defined = true;
}

const PickleObject* makeDType(PickleDocument& doc, const std::vector<const PickleObject*>& a)
{
    if (a.size() != 3)
        throw PickleCallError("numpy.dtype is called with " + std::to_string(a.size()) + " arguments, not 3");
    auto* d = doc.make(PickleKind::ArrayDType);
    if (a[0]->kind == PickleKind::Global && a[0]->text == "ml_dtypes.bfloat16") {
        d->array.dtype = DType::BF16;
        d->array.descr = "bfloat16";
        return d;
    }
    if (!a[0]->isString())
        throw PickleCallError("numpy.dtype of " + describePickleObject(a[0]) + " is not supported");
    d->array.descr = a[0]->text;
    if (!dtypeOfDescr(a[0]->text, d->array.dtype))
        throw PickleCallError("numpy dtype '" + a[0]->text
            + "' is not supported (float64/32/16, bfloat16, int64/32/16/8, uint8 and bool are)");
    return d;
}

} // namespace

bool isAllowedNumpyGlobal(const std::string& module, const std::string& name)
{
    const std::string full = module + "." + name;
    return full == "collections.OrderedDict" || full == "numpy.ndarray" || full == "numpy.dtype"
        || full == "ml_dtypes.bfloat16" || full == "_codecs.encode" || isReconstruct(full) || isFromBuffer(full);
}

const PickleObject* callNumpyGlobal(
    PickleDocument& doc, const std::string& fn, const std::vector<const PickleObject*>& a)
{
    if (fn == "numpy.dtype")
        return makeDType(doc, a);
    if (isReconstruct(fn)) {
        if (a.size() != 3 || a[0]->kind != PickleKind::Global || a[0]->text != "numpy.ndarray")
            throw PickleCallError("_reconstruct builds only numpy.ndarray");
        return doc.make(PickleKind::Array);
    }
    if (isFromBuffer(fn)) {
        if (a.size() != 4 || !a[3]->isString() || (a[3]->text != "C" && a[3]->text != "F"))
            throw PickleCallError("_frombuffer needs (buffer, dtype, shape, 'C' or 'F')");
        auto* array = doc.make(PickleKind::Array);
        defineArray(array, a[2], a[1], a[3]->text == "F", a[0]);
        return array;
    }
    if (fn == "collections.OrderedDict" || fn == "_codecs.encode")
        return callTorchGlobal(doc, fn, a);
    throw PickleCallError("calling " + fn + " is not allowed");
}

void buildNumpyObject(PickleObject* target, const PickleObject* state)
{
    if (target->kind == PickleKind::ArrayDType) {
        // (version, byte order, subarray, names, fields, elsize, alignment, flags)
        if (state->kind != PickleKind::Tuple || state->items.size() < 4 || !state->items[1]->isString())
            throw PickleCallError("a numpy dtype's state is " + describePickleObject(state));
        const std::string& order = state->items[1]->text;
        if (order == ">")
            throw PickleCallError("big-endian numpy arrays (dtype '>" + target->array.descr + "') are not supported");
        if (state->items[2]->kind != PickleKind::None || state->items[3]->kind != PickleKind::None)
            throw PickleCallError("structured or sub-array numpy dtypes are not supported");
        return;
    }
    if (target->kind != PickleKind::Array || target->array.defined)
        throw PickleCallError("BUILD on " + describePickleObject(target) + " is not supported");
    // ndarray.__setstate__: (version, shape, dtype, is_fortran, data), or without the version.
    if (state->kind != PickleKind::Tuple || (state->items.size() != 5 && state->items.size() != 4))
        throw PickleCallError("an array's state is " + describePickleObject(state));
    const std::size_t at = state->items.size() == 5 ? 1 : 0;
    const PickleObject* fortran = state->items[at + 2];
    if (fortran->kind != PickleKind::Bool && fortran->kind != PickleKind::Int)
        throw PickleCallError("an array's order flag is " + describePickleObject(fortran));
    defineArray(target, state->items[at], state->items[at + 1], fortran->boolean || fortran->integer != 0,
        state->items[at + 3]);
}

} // namespace qs
