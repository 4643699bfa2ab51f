#include "io/pickle/unpickler.h"

#include "error.h"
#include "io/pickle/pickle_opcodes.h"
#include "io/pickle/torch_globals.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>

namespace qs {
namespace {

using Obj = const PickleObject*;

class Unpickler
{
public:
    Unpickler(const std::uint8_t* data, std::size_t size, PickleDocument& doc, const std::string& file)
        : m_data(data)
        , m_size(size)
        , m_doc(doc)
        , m_file(file)
    { }

    std::size_t run();

private:
    [[noreturn]] void fail(const std::string& reason) const
    {
        throw FormatError("pickle: " + reason, ErrorContext { m_file, {}, m_opStart });
    }

    const std::uint8_t* take(std::size_t n)
    {
        if (n > m_size - m_pos)
            fail("the data ends in the middle of an opcode (truncated file?)");
        const auto* p = m_data + m_pos;
        m_pos += n;
        return p;
    }
    std::uint64_t readLe(std::size_t n)
    {
        const auto* p = take(n);
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i)
            v |= std::uint64_t(p[i]) << (8 * i);
        return v;
    }
    std::string readLine()
    {
        const void* nl = std::memchr(m_data + m_pos, '\n', m_size - m_pos);
        if (!nl)
            fail("a text argument has no end of line (truncated file?)");
        const auto* end = static_cast<const std::uint8_t*>(nl);
        std::string s(reinterpret_cast<const char*>(m_data + m_pos), end - (m_data + m_pos));
        m_pos = end - m_data + 1;
        return s;
    }
    std::string readBytes(std::uint64_t n)
    {
        if (n > m_size - m_pos)
            fail("a string or bytes length of " + std::to_string(n) + " runs past the end of the data");
        const auto* p = take(static_cast<std::size_t>(n));
        return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }

    PickleObject* make(PickleKind kind)
    {
        if (m_doc.objectCount() >= kMaxPickleObjects)
            fail("more than " + std::to_string(kMaxPickleObjects) + " objects; this is not a checkpoint");
        return m_doc.make(kind);
    }
    void push(Obj o) { m_stack.push_back(o); }
    Obj pop()
    {
        if (m_stack.size() <= m_markBase())
            fail("the stack is empty (malformed pickle)");
        Obj o = m_stack.back();
        m_stack.pop_back();
        return o;
    }
    Obj& top()
    {
        if (m_stack.size() <= m_markBase())
            fail("the stack is empty (malformed pickle)");
        return m_stack.back();
    }
    std::size_t m_markBase() const { return m_marks.empty() ? 0 : m_marks.back(); }
    std::vector<Obj> popMark()
    {
        if (m_marks.empty())
            fail("an opcode needs a MARK but there is none");
        const std::size_t base = m_marks.back();
        m_marks.pop_back();
        std::vector<Obj> items(m_stack.begin() + static_cast<std::ptrdiff_t>(base), m_stack.end());
        m_stack.resize(base);
        return items;
    }
    PickleObject* mutableContainer(Obj o, PickleKind kind, const char* op)
    {
        if (o->kind != kind)
            fail(std::string(op) + " applied to " + describePickleObject(o));
        return const_cast<PickleObject*>(o);
    }

    Obj makeInt(std::int64_t v)
    {
        auto* o = make(PickleKind::Int);
        o->integer = v;
        return o;
    }
    Obj makeText(PickleKind kind, std::string s)
    {
        if (kind == PickleKind::String && !isValidUtf8(s))
            fail("a string is not valid UTF-8 (Python itself would not have written it)");
        auto* o = make(kind);
        o->text = std::move(s);
        return o;
    }
    Obj makeTuple(std::vector<Obj> items)
    {
        auto* o = make(PickleKind::Tuple);
        o->items = std::move(items);
        return o;
    }
    // Integers wider than 64 bits only occur as magic numbers: kept as big-endian hex text.
    Obj makeBigInt(const std::uint8_t* p, std::uint64_t n)
    {
        auto* o = make(PickleKind::Int);
        o->text = "0x";
        for (std::uint64_t i = n; i-- > 0;)
            o->text += std::string(1, "0123456789abcdef"[p[i] >> 4]) + "0123456789abcdef"[p[i] & 15];
        return o;
    }
    std::int64_t decodeLong(const std::uint8_t* p, std::uint64_t n)
    {
        if (n > 8)
            fail("an integer of " + std::to_string(n) + " bytes is too large");
        if (n == 0)
            return 0;
        std::uint64_t v = 0;
        for (std::uint64_t i = 0; i < n; ++i)
            v |= std::uint64_t(p[i]) << (8 * i);
        if (n < 8 && (p[n - 1] & 0x80))
            v |= ~std::uint64_t(0) << (8 * n); // sign-extend
        return static_cast<std::int64_t>(v);
    }

    Obj global(const std::string& module, const std::string& name);
    Obj persistentLoad(Obj pid);
    Obj reduce(Obj callable, Obj args);
    void build(Obj target, Obj state);
    void memoPut(std::uint64_t index) { m_memo[index] = top(); }
    Obj memoGet(std::uint64_t index)
    {
        const auto it = m_memo.find(index);
        if (it == m_memo.end())
            fail("memo entry " + std::to_string(index) + " is read before it is written");
        return it->second;
    }

    const std::uint8_t* m_data;
    std::size_t m_size;
    std::size_t m_pos = 0;
    std::uint64_t m_opStart = 0;
    PickleDocument& m_doc;
    const std::string& m_file;
    std::vector<Obj> m_stack;
    std::vector<std::size_t> m_marks;
    std::unordered_map<std::uint64_t, Obj> m_memo;
    std::map<std::pair<std::string, DType>, Obj> m_storages;
};

Obj Unpickler::global(const std::string& module, const std::string& name)
{
    const std::string full = module + "." + name;
    if (!isAllowedTorchGlobal(module, name))
        fail("refers to the global '" + full
            + "', which is not allowed: QuantScope reads only tensors, storages and plain containers and never "
              "runs code from a checkpoint");
    return makeText(PickleKind::Global, full);
}

Obj Unpickler::persistentLoad(Obj pid)
{
    if (pid->kind != PickleKind::Tuple || pid->items.size() < 5 || !pid->items[0]->isString()
        || pid->items[0]->text != "storage")
        fail("persistent id " + describePickleObject(pid) + " is not a torch storage reference");
    const Obj cls = pid->items[1];
    const Obj key = pid->items[2];
    const Obj location = pid->items[3];
    const Obj numel = pid->items[4];
    DType dtype;
    if (cls->kind != PickleKind::Global || cls->text.rfind("torch.", 0) != 0
        || !storageClassDType(cls->text.substr(6), dtype))
        fail("persistent id names " + describePickleObject(cls) + " instead of a storage class");
    if (!key->isString() || !location->isString() || numel->kind != PickleKind::Int || numel->integer < 0)
        fail("malformed storage reference " + describePickleObject(pid));
    if (pid->items.size() > 5 && pid->items[5]->kind != PickleKind::None)
        fail("storage views (files written before PyTorch 1.0) are not supported");
    const auto slot = std::make_pair(key->text, dtype);
    const auto it = m_storages.find(slot);
    if (it != m_storages.end())
        return it->second;
    auto* s = make(PickleKind::Storage);
    s->storage = PickleStorage { key->text, dtype, numel->integer, location->text };
    m_storages.emplace(slot, s);
    return s;
}

Obj Unpickler::reduce(Obj callable, Obj args)
{
    if (callable->kind != PickleKind::Global)
        fail("REDUCE calls " + describePickleObject(callable) + ", which is not an allowed global");
    if (args->kind != PickleKind::Tuple)
        fail("REDUCE arguments are " + describePickleObject(args) + ", not a tuple");
    if (m_doc.objectCount() >= kMaxPickleObjects)
        fail("more than " + std::to_string(kMaxPickleObjects) + " objects; this is not a checkpoint");
    try {
        return callTorchGlobal(m_doc, callable->text, args->items);
    } catch (const PickleCallError& e) {
        fail(e.what());
    }
}

void Unpickler::build(Obj target, Obj state)
{
    if (target->kind == PickleKind::Dict && (state->kind == PickleKind::Dict || state->kind == PickleKind::None)) {
        const_cast<PickleObject*>(target)->state = state; // an OrderedDict's attributes (state_dict._metadata)
        return;
    }
    if (target->kind == PickleKind::Tensor)
        return; // a Parameter's extra Python attributes: nothing to keep
    fail("BUILD on " + describePickleObject(target) + " is not supported");
}

std::size_t Unpickler::run()
{
    using namespace pickle_op;
    while (true) {
        m_opStart = m_pos;
        if (m_pos >= m_size)
            fail("the data ends before the STOP opcode (truncated file?)");
        const std::uint8_t op = *take(1);
        switch (op) {
        case PROTO: {
            const auto v = *take(1);
            if (v < 2 || v > 5)
                fail("protocol " + std::to_string(v) + " is not supported (torch.save uses 2 to 5)");
            break;
        }
        case FRAME:
            take(8);
            break;
        case STOP:
            if (m_stack.size() != 1 || !m_marks.empty())
                fail("STOP with " + std::to_string(m_stack.size()) + " values on the stack instead of one");
            m_doc.setRoot(m_stack.back());
            return m_pos;
        case MARK:
            m_marks.push_back(m_stack.size());
            break;
        case POP:
            pop();
            break;
        case POP_MARK:
            popMark();
            break;
        case DUP:
            push(top());
            break;
        case NONE:
            push(make(PickleKind::None));
            break;
        case NEWTRUE:
        case NEWFALSE: {
            auto* o = make(PickleKind::Bool);
            o->boolean = op == NEWTRUE;
            push(o);
            break;
        }
        case BININT:
            push(makeInt(static_cast<std::int32_t>(readLe(4))));
            break;
        case BININT1:
            push(makeInt(static_cast<std::int64_t>(readLe(1))));
            break;
        case BININT2:
            push(makeInt(static_cast<std::int64_t>(readLe(2))));
            break;
        case LONG1:
        case LONG4: {
            const auto n = readLe(op == LONG1 ? 1 : 4);
            if (n > 64)
                fail("an integer of " + std::to_string(n) + " bytes is too large");
            if (n > m_size - m_pos)
                fail("an integer of " + std::to_string(n) + " bytes runs past the end of the data");
            push(n <= 8 ? makeInt(decodeLong(take(n), n)) : makeBigInt(take(n), n));
            break;
        }
        case INT: {
            const std::string line = readLine();
            if (line == "00" || line == "01") {
                auto* o = make(PickleKind::Bool);
                o->boolean = line == "01";
                push(o);
                break;
            }
            char* end = nullptr;
            errno = 0;
            const long long v = std::strtoll(line.c_str(), &end, 10);
            if (line.empty() || *end != '\0' || errno)
                fail("INT argument '" + line.substr(0, 40) + "' is not an integer");
            push(makeInt(v));
            break;
        }
        case BINFLOAT: {
            const auto* p = take(8);
            std::uint64_t bits = 0;
            for (int i = 0; i < 8; ++i)
                bits = (bits << 8) | p[i]; // big-endian
            auto* o = make(PickleKind::Float);
            std::memcpy(&o->real, &bits, 8);
            push(o);
            break;
        }
        case SHORT_BINUNICODE:
            push(makeText(PickleKind::String, readBytes(readLe(1))));
            break;
        case BINUNICODE:
            push(makeText(PickleKind::String, readBytes(readLe(4))));
            break;
        case BINUNICODE8:
            push(makeText(PickleKind::String, readBytes(readLe(8))));
            break;
        case SHORT_BINSTRING:
        case SHORT_BINBYTES:
            push(makeText(PickleKind::Bytes, readBytes(readLe(1))));
            break;
        case BINSTRING:
        case BINBYTES:
            push(makeText(PickleKind::Bytes, readBytes(readLe(4))));
            break;
        case BINBYTES8:
        case BYTEARRAY8:
            push(makeText(PickleKind::Bytes, readBytes(readLe(8))));
            break;
        case EMPTY_LIST:
            push(make(PickleKind::List));
            break;
        case EMPTY_TUPLE:
            push(makeTuple({}));
            break;
        case EMPTY_DICT:
            push(make(PickleKind::Dict));
            break;
        case EMPTY_SET:
            push(make(PickleKind::Set));
            break;
        case LIST:
        case TUPLE:
        case FROZENSET: {
            auto items = popMark();
            auto* o = make(op == LIST ? PickleKind::List : op == TUPLE ? PickleKind::Tuple : PickleKind::Set);
            o->items = std::move(items);
            push(o);
            break;
        }
        case TUPLE1:
        case TUPLE2:
        case TUPLE3: {
            const std::size_t n = op == TUPLE1 ? 1 : op == TUPLE2 ? 2 : 3;
            std::vector<Obj> items(n);
            for (std::size_t i = n; i-- > 0;)
                items[i] = pop();
            push(makeTuple(std::move(items)));
            break;
        }
        case DICT: {
            auto items = popMark();
            if (items.size() % 2)
                fail("DICT with an odd number of items");
            auto* d = make(PickleKind::Dict);
            for (std::size_t i = 0; i < items.size(); i += 2)
                d->entries.emplace_back(items[i], items[i + 1]);
            push(d);
            break;
        }
        case APPEND: {
            const Obj v = pop();
            mutableContainer(top(), PickleKind::List, "APPEND")->items.push_back(v);
            break;
        }
        case APPENDS: {
            auto items = popMark();
            auto* list = mutableContainer(top(), PickleKind::List, "APPENDS");
            list->items.insert(list->items.end(), items.begin(), items.end());
            break;
        }
        case ADDITEMS: {
            auto items = popMark();
            auto* set = mutableContainer(top(), PickleKind::Set, "ADDITEMS");
            set->items.insert(set->items.end(), items.begin(), items.end());
            break;
        }
        case SETITEM: {
            const Obj v = pop();
            const Obj k = pop();
            mutableContainer(top(), PickleKind::Dict, "SETITEM")->entries.emplace_back(k, v);
            break;
        }
        case SETITEMS: {
            auto items = popMark();
            if (items.size() % 2)
                fail("SETITEMS with an odd number of items");
            auto* d = mutableContainer(top(), PickleKind::Dict, "SETITEMS");
            for (std::size_t i = 0; i < items.size(); i += 2)
                d->entries.emplace_back(items[i], items[i + 1]);
            break;
        }
        case GLOBAL: {
            const std::string module = readLine();
            const std::string name = readLine();
            push(global(module, name));
            break;
        }
        case STACK_GLOBAL: {
            const Obj name = pop();
            const Obj module = pop();
            if (!module->isString() || !name->isString())
                fail("STACK_GLOBAL needs two strings");
            push(global(module->text, name->text));
            break;
        }
        case REDUCE: {
            const Obj args = pop();
            const Obj callable = pop();
            push(reduce(callable, args));
            break;
        }
        case NEWOBJ: {
            const Obj args = pop();
            const Obj cls = pop();
            if (cls->kind != PickleKind::Global || cls->text != "collections.OrderedDict")
                fail("NEWOBJ creates " + describePickleObject(cls) + ", which is not allowed");
            push(reduce(cls, args));
            break;
        }
        case BUILD: {
            const Obj state = pop();
            build(top(), state);
            break;
        }
        case BINPERSID:
            push(persistentLoad(pop()));
            break;
        case BINGET:
            push(memoGet(readLe(1)));
            break;
        case LONG_BINGET:
            push(memoGet(readLe(4)));
            break;
        case BINPUT:
            memoPut(readLe(1));
            break;
        case LONG_BINPUT:
            memoPut(readLe(4));
            break;
        case MEMOIZE:
            memoPut(m_memo.size());
            break;
        default:
            fail("opcode 0x" + std::string(1, "0123456789abcdef"[op >> 4]) + std::string(1, "0123456789abcdef"[op & 15])
                + (op >= 0x20 && op < 0x7f ? std::string(" ('") + char(op) + "')" : std::string())
                + " is not supported by QuantScope's restricted unpickler");
        }
    }
}

} // namespace

UnpickleResult unpickle(
    const std::uint8_t* data, std::size_t size, PickleDocument& document, const std::string& fileName)
{
    Unpickler u(data, size, document, fileName);
    return UnpickleResult { u.run() };
}

} // namespace qs
