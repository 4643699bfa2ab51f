// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/pickle/pickle_object.h"

namespace qs {

const PickleObject* PickleObject::get(const std::string& key) const
{
    if (kind != PickleKind::Dict)
        return nullptr;
    for (const auto& [k, v] : entries) {
        if (k->kind == PickleKind::String && k->text == key)
            return v;
    }
    return nullptr;
}

PickleObject* PickleDocument::make(PickleKind kind)
{
    m_objects.emplace_back();
    m_objects.back().kind = kind;
    return &m_objects.back();
}

std::string describePickleObject(const PickleObject* o)
{
    if (!o)
        return "nothing";
    auto quoted = [](const std::string& s) { return "'" + (s.size() > 40 ? s.substr(0, 40) + "…" : s) + "'"; };
    switch (o->kind) {
    case PickleKind::None:
        return "None";
    case PickleKind::Bool:
        return o->boolean ? "True" : "False";
    case PickleKind::Int:
        return "int " + std::to_string(o->integer);
    case PickleKind::Float:
        return "float " + std::to_string(o->real);
    case PickleKind::String:
        return "str " + quoted(o->text);
    case PickleKind::Bytes:
        return "bytes (" + std::to_string(o->external ? o->dataSize : o->text.size()) + ")";
    case PickleKind::List:
        return "list (" + std::to_string(o->items.size()) + " items)";
    case PickleKind::Tuple:
        return "tuple (" + std::to_string(o->items.size()) + " items)";
    case PickleKind::Set:
        return "set (" + std::to_string(o->items.size()) + " items)";
    case PickleKind::Dict:
        return std::string(o->ordered ? "OrderedDict" : "dict") + " (" + std::to_string(o->entries.size())
            + " entries)";
    case PickleKind::Global:
        return "global " + o->text;
    case PickleKind::Storage:
        return "storage " + quoted(o->storage.key);
    case PickleKind::Tensor:
        return "tensor";
    case PickleKind::ArrayDType:
        return "numpy dtype " + quoted(o->array.descr);
    case PickleKind::Array:
        return "numpy array (" + o->array.descr + ")";
    }
    return "object";
}

} // namespace qs
