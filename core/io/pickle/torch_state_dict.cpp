// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/pickle/torch_state_dict.h"

#include "error.h"

#include <nlohmann/json.hpp>

#include <set>
#include <unordered_map>

namespace qs {
namespace {

constexpr int kMaxDepth = 64; // nesting deeper than this is not a checkpoint (and may be a cycle)

// Strings come from the file: invalid UTF-8 is replaced rather than thrown on.
std::string dumpJson(const nlohmann::json& j)
{
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string keyText(const PickleObject* key)
{
    switch (key->kind) {
    case PickleKind::String:
        return key->text;
    case PickleKind::Int:
        return std::to_string(key->integer);
    default:
        return describePickleObject(key);
    }
}

class Interpreter
{
public:
    Interpreter(const std::string& file, const ScalarReader& scalar)
        : m_file(file)
        , m_scalar(scalar)
    { }

    // Tensors reachable from `o`. Memoised by object, so objects shared through the pickle memo
    // (a = [b, b], b = [c, c], ...) cost one visit each, and cycles count nothing twice.
    std::size_t countTensors(const PickleObject* o, int depth = 0) const
    {
        if (depth > kMaxDepth)
            return 0; // not a checkpoint's structure; also keeps the recursion shallow
        const auto it = m_tensorCounts.find(o);
        if (it != m_tensorCounts.end())
            return it->second;
        m_tensorCounts[o] = 0; // a cycle back to `o` counts nothing
        std::size_t n = o->kind == PickleKind::Tensor ? 1 : 0;
        for (const auto* item : o->items)
            n += countTensors(item, depth + 1);
        for (const auto& [k, v] : o->entries)
            n += countTensors(v, depth + 1);
        m_tensorCounts[o] = n;
        return n;
    }

    // Metadata as JSON, within a budget of nodes: shared sub-objects are expanded each time they
    // appear, so without one a small hostile pickle could describe an exponentially large tree.
    nlohmann::json toJson(const PickleObject* o, int depth = 0) const
    {
        if (depth > kMaxDepth || ++m_jsonNodes > kMaxJsonNodes)
            return "…";
        switch (o->kind) {
        case PickleKind::None:
            return nullptr;
        case PickleKind::Bool:
            return o->boolean;
        case PickleKind::Int:
            return o->text.empty() ? nlohmann::json(o->integer) : nlohmann::json(o->text);
        case PickleKind::Float:
            return o->real;
        case PickleKind::String:
            return o->text;
        case PickleKind::Bytes:
            return "<" + std::to_string(o->text.size()) + " bytes>";
        case PickleKind::List:
        case PickleKind::Tuple:
        case PickleKind::Set: {
            auto a = nlohmann::json::array();
            for (const auto* item : o->items)
                a.push_back(toJson(item, depth + 1));
            return a;
        }
        case PickleKind::Dict: {
            auto d = nlohmann::json::object();
            for (const auto& [k, v] : o->entries)
                d[keyText(k)] = toJson(v, depth + 1);
            return d;
        }
        case PickleKind::Tensor: {
            std::int64_t numel = 1;
            for (auto s : o->tensor.shape) {
                if (s < 0 || __builtin_mul_overflow(numel, s, &numel))
                    return "<tensor of invalid size>";
            }
            if (numel == 1 && m_scalar) {
                if (const auto v = m_scalar(o->tensor))
                    return *v;
            }
            return "<tensor " + std::to_string(numel) + " elements>";
        }
        case PickleKind::Global:
            return "<" + o->text + ">";
        case PickleKind::Storage:
            return "<storage>";
        }
        return nullptr;
    }

    // Collects the tensors below `o`, names prefixed with `prefix`. A dict that contains itself,
    // or one reached again and again through shared references, is malformed for a checkpoint.
    void collect(const PickleObject* o, const std::string& prefix, int depth, TorchStateDict& out)
    {
        if (depth > kMaxDepth)
            throw FormatError("the object nests deeper than " + std::to_string(kMaxDepth) + " levels",
                ErrorContext { m_file, prefix, {} });
        if (!m_collected.insert(o).second)
            throw FormatError("a dict of tensors appears twice (or inside itself) in the checkpoint",
                ErrorContext { m_file, prefix, {} });
        for (const auto& [k, v] : o->entries) {
            const std::string name = prefix.empty() ? keyText(k) : prefix + "." + keyText(k);
            if (v->kind == PickleKind::Tensor)
                add(name, v, out);
            else if (v->kind == PickleKind::Dict && countTensors(v, depth + 1) > 0)
                collect(v, name, depth + 1, out);
            else if (depth == 0)
                out.metadata[name] = dumpJson(toJson(v));
            else if (countTensors(v, depth + 1) > 0)
                out.notes.push_back("'" + name + "' holds tensors inside a " + describePickleObject(v)
                    + "; they are not part of the checkpoint's catalog");
        }
    }

    void add(std::string name, const PickleObject* t, TorchStateDict& out)
    {
        static const std::string kCompiled = "_orig_mod.";
        if (name.compare(0, kCompiled.size(), kCompiled) == 0) {
            name.erase(0, kCompiled.size());
            m_strippedCompiled = true;
        }
        validate(name, t->tensor);
        if (!m_names.insert(name).second)
            throw FormatError("two tensors have this name", ErrorContext { m_file, name, {} });
        out.tensors.push_back({ name, t });
    }

    void validate(const std::string& name, const PickleTensor& t) const
    {
        const auto& s = t.storage->storage;
        const ErrorContext where { m_file, name, {} };
        if (t.storageOffset < 0)
            throw FormatError("negative storage offset " + std::to_string(t.storageOffset), where);
        // The last element reached is offset + sum((size-1) * stride); it must be inside the storage.
        std::uint64_t last = static_cast<std::uint64_t>(t.storageOffset);
        bool empty = false;
        for (std::size_t i = 0; i < t.shape.size(); ++i) {
            if (t.shape[i] < 0 || t.strides[i] < 0)
                throw FormatError("negative size or stride in " + formatDims(t), where);
            if (t.shape[i] == 0)
                empty = true;
            constexpr std::uint64_t kLimit = std::uint64_t(1) << 62;
            const auto count = static_cast<std::uint64_t>(t.shape[i] ? t.shape[i] - 1 : 0);
            const auto stride = static_cast<std::uint64_t>(t.strides[i]);
            if (stride != 0 && count > kLimit / stride)
                throw FormatError("size and stride overflow: " + formatDims(t), where);
            last += count * stride;
            if (last > kLimit)
                throw FormatError("size and stride overflow: " + formatDims(t), where);
        }
        if (!empty && last >= static_cast<std::uint64_t>(s.numel))
            throw FormatError("the tensor " + formatDims(t) + " at storage offset " + std::to_string(t.storageOffset)
                    + " reaches element " + std::to_string(last) + " of a storage of " + std::to_string(s.numel)
                    + " elements",
                where);
    }

    static std::string formatDims(const PickleTensor& t)
    {
        std::string out = "size (";
        for (std::size_t i = 0; i < t.shape.size(); ++i)
            out += (i ? ", " : "") + std::to_string(t.shape[i]);
        out += ") stride (";
        for (std::size_t i = 0; i < t.strides.size(); ++i)
            out += (i ? ", " : "") + std::to_string(t.strides[i]);
        return out + ")";
    }

    bool strippedCompiled() const { return m_strippedCompiled; }

private:
    static constexpr std::size_t kMaxJsonNodes = 100'000;

    const std::string& m_file;
    const ScalarReader& m_scalar;
    std::set<std::string> m_names;
    std::set<const PickleObject*> m_collected;
    mutable std::unordered_map<const PickleObject*, std::size_t> m_tensorCounts;
    mutable std::size_t m_jsonNodes = 0;
    bool m_strippedCompiled = false;
};

} // namespace

TorchStateDict interpretTorchObject(const PickleObject* root, const std::string& fileName, const ScalarReader& scalar)
{
    if (!root || root->kind != PickleKind::Dict)
        throw FormatError("the file holds " + describePickleObject(root)
                + " instead of a dict of tensors (a pickled nn.Module cannot be read; save its state_dict())",
            ErrorContext { fileName, {}, {} });
    Interpreter in(fileName, scalar);
    TorchStateDict out;

    const PickleObject* inner = nullptr;
    std::string innerKey;
    for (const char* key : { "model", "state_dict" }) {
        const auto* v = root->get(key);
        if (v && v->kind == PickleKind::Dict && in.countTensors(v) > 0) {
            inner = v;
            innerKey = key;
            break;
        }
    }
    if (inner) {
        const bool nanogpt = root->get("model_args") || root->get("config");
        out.layout = nanogpt ? "nanogpt" : "checkpoint";
        TorchStateDict tensors;
        in.collect(inner, "", 1, tensors);
        out.tensors = std::move(tensors.tensors);
        out.notes = std::move(tensors.notes);
        for (const auto& [k, v] : root->entries) {
            const std::string name = keyText(k);
            if (name == innerKey)
                continue;
            const std::size_t n = in.countTensors(v);
            if (name == "optimizer" || name.find("optimizer") != std::string::npos || name == "scheduler") {
                if (n > 0)
                    out.notes.push_back(
                        "'" + name + "' (" + std::to_string(n) + " tensors) is training state; ignored");
                continue;
            }
            out.metadata[name] = dumpJson(in.toJson(v));
        }
    } else {
        in.collect(root, "", 0, out);
        bool flat = true;
        for (const auto& [k, v] : root->entries)
            flat = flat && v->kind == PickleKind::Tensor;
        out.layout = flat ? "state_dict" : "nested";
    }
    if (in.strippedCompiled())
        out.notes.push_back("the torch.compile prefix '_orig_mod.' was removed from tensor names");
    if (out.tensors.empty())
        throw FormatError("the file holds " + describePickleObject(root) + " with no tensors in it",
            ErrorContext { fileName, {}, {} });
    return out;
}

} // namespace qs
