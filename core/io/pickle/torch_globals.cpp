// SPDX-License-Identifier: GPL-3.0-or-later
// The few Python callables torch.save's pickles name, turned into plain data. Nothing is
// ever executed: each allowed name has a fixed meaning here, and any other name is refused.
#include "io/pickle/torch_globals.h"

#include <map>

namespace qs {
namespace {

std::string describeArgs(const std::vector<const PickleObject*>& a)
{
    std::string out = "(";
    for (std::size_t i = 0; i < a.size(); ++i)
        out += (i ? ", " : "") + describePickleObject(a[i]);
    return out + ")";
}

std::vector<std::int64_t> intTuple(const PickleObject* o, bool& ok)
{
    std::vector<std::int64_t> out;
    ok = o->kind == PickleKind::Tuple || o->kind == PickleKind::List;
    if (!ok)
        return out;
    for (const PickleObject* item : o->items) {
        if (item->kind != PickleKind::Int) {
            ok = false;
            return out;
        }
        out.push_back(item->integer);
    }
    return out;
}

} // namespace

const PickleObject* callTorchGlobal(
    PickleDocument& doc, const std::string& fn, const std::vector<const PickleObject*>& a)
{
    if (fn == "collections.OrderedDict") {
        if (!a.empty())
            throw PickleCallError("OrderedDict is called with arguments");
        auto* d = doc.make(PickleKind::Dict);
        d->ordered = true;
        return d;
    }
    if (fn == "torch._utils._rebuild_tensor_v2") {
        if (a.size() < 4 || a[0]->kind != PickleKind::Storage || a[1]->kind != PickleKind::Int)
            throw PickleCallError(
                "_rebuild_tensor_v2 needs (storage, offset, size, stride, ...), got " + describeArgs(a));
        bool okShape = false, okStride = false;
        auto* t = doc.make(PickleKind::Tensor);
        t->tensor.storage = a[0];
        t->tensor.storageOffset = a[1]->integer;
        t->tensor.shape = intTuple(a[2], okShape);
        t->tensor.strides = intTuple(a[3], okStride);
        if (!okShape || !okStride || t->tensor.shape.size() != t->tensor.strides.size())
            throw PickleCallError("_rebuild_tensor_v2 has a malformed size or stride");
        t->tensor.requiresGrad = a.size() > 4 && a[4]->kind == PickleKind::Bool && a[4]->boolean;
        return t;
    }
    if (fn == "torch._utils._rebuild_parameter" || fn == "torch._utils._rebuild_parameter_with_state") {
        if (a.empty() || a[0]->kind != PickleKind::Tensor)
            throw PickleCallError(fn + " needs a tensor, got " + describeArgs(a));
        auto* t = doc.make(PickleKind::Tensor);
        t->tensor = a[0]->tensor;
        t->tensor.parameter = true;
        t->tensor.requiresGrad = a.size() > 1 && a[1]->kind == PickleKind::Bool && a[1]->boolean;
        return t;
    }
    if (fn == "builtins.set" || fn == "__builtin__.set" || fn == "builtins.frozenset"
        || fn == "__builtin__.frozenset") {
        // Protocol 2 pickles a set as set([items]).
        if (a.size() > 1 || (a.size() == 1 && a[0]->kind != PickleKind::List && a[0]->kind != PickleKind::Tuple))
            throw PickleCallError(fn + " is only accepted with one list of items");
        auto* set = doc.make(PickleKind::Set);
        if (!a.empty())
            set->items = a[0]->items;
        return set;
    }
    if (fn == "_codecs.encode") {
        if (a.size() != 2 || !a[0]->isString() || !a[1]->isString()
            || (a[1]->text != "latin1" && a[1]->text != "latin-1"))
            throw PickleCallError("_codecs.encode is only accepted as encode(str, 'latin1')");
        std::string bytes;
        const std::string& s = a[0]->text;
        for (std::size_t i = 0; i < s.size(); ++i) { // UTF-8 code points below 256 -> one byte each
            const auto c = static_cast<unsigned char>(s[i]);
            if (c < 0x80) {
                bytes.push_back(static_cast<char>(c));
            } else if ((c & 0xE0) == 0xC0 && c <= 0xC3 && i + 1 < s.size()) {
                bytes.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F)));
            } else {
                throw PickleCallError("_codecs.encode: the string is not latin-1");
            }
        }
        auto* out = doc.make(PickleKind::Bytes);
        out->text = std::move(bytes);
        return out;
    }
    throw PickleCallError("calling " + fn + " is not allowed");
}

bool storageClassDType(const std::string& className, DType& dtype)
{
    static const std::map<std::string, DType> kClasses = {
        { "DoubleStorage", DType::F64 },
        { "FloatStorage", DType::F32 },
        { "HalfStorage", DType::F16 },
        { "BFloat16Storage", DType::BF16 },
        { "Float8_e4m3fnStorage", DType::F8_E4M3 },
        { "Float8_e5m2Storage", DType::F8_E5M2 },
        { "LongStorage", DType::I64 },
        { "IntStorage", DType::I32 },
        { "ShortStorage", DType::I16 },
        { "CharStorage", DType::I8 },
        { "ByteStorage", DType::U8 },
        { "BoolStorage", DType::BOOL },
        { "UntypedStorage", DType::U8 },
    };
    const auto it = kClasses.find(className);
    if (it == kClasses.end())
        return false;
    dtype = it->second;
    return true;
}

bool isAllowedTorchGlobal(const std::string& module, const std::string& name)
{
    static const char* const kAllowed[] = { "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "_codecs.encode",
        "builtins.set", "__builtin__.set", "builtins.frozenset", "__builtin__.frozenset" };
    const std::string full = module + "." + name;
    for (const char* allowed : kAllowed) {
        if (full == allowed)
            return true;
    }
    DType dtype;
    return module == "torch" && storageClassDType(name, dtype);
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(const std::string& s)
{
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned c = p[i];
        std::size_t len = 0;
        unsigned min = 0, cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (std::size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

} // namespace qs
