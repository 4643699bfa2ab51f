// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/pickle/unpickler.h"

#include "io/pickle/pickle_opcodes.h"
#include "io/pickle/unpickler_machine.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace qs {
namespace detail {

std::size_t Unpickler::run()
{
    using namespace pickle_op;
    while (true) {
        m_opStart = m_pos;
        if (m_pos >= m_size)
            fail("the data ends before the STOP opcode (truncated file?)");
        const std::uint8_t op = *take(1);
        switch (op) {
        case PROTO:
        case FRAME:
            framing(op);
            break;
        case STOP:
            if (m_stack.size() != 1 || !m_marks.empty())
                fail("STOP with " + std::to_string(m_stack.size()) + " values on the stack instead of one");
            m_doc.setRoot(m_stack.back());
            return m_pos;
        case MARK:
        case POP:
        case POP_MARK:
        case DUP:
            stackOp(op);
            break;
        case NONE:
        case NEWTRUE:
        case NEWFALSE:
        case BININT:
        case BININT1:
        case BININT2:
        case BINFLOAT:
            pushConstant(op);
            break;
        case LONG1:
        case LONG4:
            pushLong(op);
            break;
        case INT:
            pushIntLine();
            break;
        case SHORT_BINUNICODE:
        case BINUNICODE:
        case BINUNICODE8:
        case SHORT_BINSTRING:
        case SHORT_BINBYTES:
        case BINSTRING:
        case BINBYTES:
        case BINBYTES8:
        case BYTEARRAY8:
            pushText(op);
            break;
        case EMPTY_LIST:
        case EMPTY_TUPLE:
        case EMPTY_DICT:
        case EMPTY_SET:
        case LIST:
        case TUPLE:
        case FROZENSET:
        case TUPLE1:
        case TUPLE2:
        case TUPLE3:
        case DICT:
            pushContainer(op);
            break;
        case APPEND:
        case APPENDS:
        case ADDITEMS:
        case SETITEM:
        case SETITEMS:
            fillContainer(op);
            break;
        case GLOBAL:
        case STACK_GLOBAL:
        case REDUCE:
        case NEWOBJ:
        case BUILD:
        case BINPERSID:
            objectOp(op);
            break;
        case BINGET:
        case LONG_BINGET:
        case BINPUT:
        case LONG_BINPUT:
        case MEMOIZE:
            memoOp(op);
            break;
        case NEXT_BUFFER:
        case READONLY_BUFFER:
            bufferOp(op);
            break;
        default:
            unsupported(op);
        }
    }
}

void Unpickler::framing(std::uint8_t op)
{
    using namespace pickle_op;
    if (op == PROTO) {
        const auto v = *take(1);
        if (v < 2 || v > 5)
            fail("protocol " + std::to_string(v) + " is not supported (torch.save uses 2 to 5)");
    } else {
        take(8); // FRAME: the frame's length, not needed to read it
    }
}

void Unpickler::stackOp(std::uint8_t op)
{
    using namespace pickle_op;
    switch (op) {
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
    }
}

void Unpickler::pushConstant(std::uint8_t op)
{
    using namespace pickle_op;
    switch (op) {
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
    }
}

void Unpickler::pushLong(std::uint8_t op)
{
    const auto n = readLe(op == pickle_op::LONG1 ? 1 : 4);
    if (n > 64)
        fail("an integer of " + std::to_string(n) + " bytes is too large");
    if (n > m_size - m_pos)
        fail("an integer of " + std::to_string(n) + " bytes runs past the end of the data");
    push(n <= 8 ? makeInt(decodeLong(take(n), n)) : makeBigInt(take(n), n));
}

void Unpickler::pushIntLine()
{
    const std::string line = readLine();
    if (line == "00" || line == "01") {
        auto* o = make(PickleKind::Bool);
        o->boolean = line == "01";
        push(o);
        return;
    }
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(line.c_str(), &end, 10);
    if (line.empty() || *end != '\0' || errno)
        fail("INT argument '" + line.substr(0, 40) + "' is not an integer");
    push(makeInt(v));
}

void Unpickler::pushText(std::uint8_t op)
{
    using namespace pickle_op;
    switch (op) {
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
        push(makeText(PickleKind::Bytes, readBytes(readLe(1))));
        break;
    case SHORT_BINBYTES:
        push(makeBytes(readLe(1)));
        break;
    case BINSTRING:
        push(makeText(PickleKind::Bytes, readBytes(readLe(4))));
        break;
    case BINBYTES:
        push(makeBytes(readLe(4)));
        break;
    case BINBYTES8:
    case BYTEARRAY8:
        push(makeBytes(readLe(8)));
        break;
    }
}

void Unpickler::pushContainer(std::uint8_t op)
{
    using namespace pickle_op;
    switch (op) {
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
    }
}

void Unpickler::fillContainer(std::uint8_t op)
{
    using namespace pickle_op;
    switch (op) {
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
    }
}

void Unpickler::memoOp(std::uint8_t op)
{
    using namespace pickle_op;
    switch (op) {
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
    }
}

void Unpickler::bufferOp(std::uint8_t op)
{
    if (op == pickle_op::NEXT_BUFFER)
        fail("NEXT_BUFFER takes an out-of-band buffer that a file cannot hold (the pickle was written with a "
             "buffer_callback)");
    if (top()->kind != PickleKind::Bytes) // READONLY_BUFFER: a flag on the buffer just taken
        fail("READONLY_BUFFER applied to " + describePickleObject(top()));
}

void Unpickler::unsupported(std::uint8_t op) const
{
    fail("opcode 0x" + std::string(1, "0123456789abcdef"[op >> 4]) + std::string(1, "0123456789abcdef"[op & 15])
        + (op >= 0x20 && op < 0x7f ? std::string(" ('") + char(op) + "')" : std::string())
        + " is not supported by QuantScope's restricted unpickler");
}

} // namespace detail

UnpickleResult unpickle(const std::uint8_t* data, std::size_t size, PickleDocument& document,
    const std::string& fileName, PickleGlobals globals)
{
    detail::Unpickler u(data, size, document, fileName, globals);
    return UnpickleResult { u.run() };
}

} // namespace qs
