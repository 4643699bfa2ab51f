// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to core/io/pickle: the restricted unpickler's machine (cursor, stack, marks, memo)
// shared by unpickler.cpp (the opcode loop and the plain-data opcodes) and
// unpickler_globals.cpp (globals, REDUCE, BUILD, persistent ids). Use unpickle() from
// io/pickle/unpickler.h instead.
#include "error.h"
#include "io/pickle/pickle_object.h"
#include "io/pickle/numpy_globals.h"
#include "io/pickle/torch_globals.h"
#include "io/pickle/unpickler.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace qs::detail {

using Obj = const PickleObject*;

class Unpickler
{
public:
    Unpickler(const std::uint8_t* data, std::size_t size, PickleDocument& doc, const std::string& file,
        PickleGlobals globals)
        : m_data(data)
        , m_size(size)
        , m_doc(doc)
        , m_file(file)
        , m_globals(globals)
    { }

    std::size_t run(); // unpickler.cpp: reads opcodes up to STOP, returns the bytes consumed

private:
    // One group of opcodes each; run() dispatches to them, so each sees only its own opcodes.
    // unpickler.cpp: the plain data, most of the opcodes of a large pickle. Defined there and
    // called only by run(); inline so that the compiler may fold them into the loop.
    inline void framing(std::uint8_t op); // PROTO, FRAME
    inline void stackOp(std::uint8_t op); // MARK, POP, POP_MARK, DUP
    inline void pushConstant(std::uint8_t op); // NONE, NEWTRUE, NEWFALSE, BININT, BININT1, BININT2, BINFLOAT
    inline void pushLong(std::uint8_t op); // LONG1, LONG4
    inline void pushIntLine(); // INT: a decimal line ("00" and "01" are the old booleans)
    inline void pushText(std::uint8_t op); // the str and bytes opcodes
    inline void pushContainer(std::uint8_t op); // EMPTY_*, LIST, TUPLE, FROZENSET, TUPLE1-3, DICT
    inline void fillContainer(std::uint8_t op); // APPEND, APPENDS, ADDITEMS, SETITEM, SETITEMS
    inline void memoOp(std::uint8_t op); // BINGET, LONG_BINGET, BINPUT, LONG_BINPUT, MEMOIZE
    void bufferOp(std::uint8_t op); // NEXT_BUFFER, READONLY_BUFFER (protocol 5)
    [[noreturn]] void unsupported(std::uint8_t op) const;
    // unpickler_globals.cpp: where a pickle refers outside itself (whitelisted globals only).
    void objectOp(std::uint8_t op); // GLOBAL, STACK_GLOBAL, REDUCE, NEWOBJ, BUILD, BINPERSID

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
    // A byte string of `n` bytes at the cursor: copied for torch pickles, left in place (its
    // offset kept) for numpy-array pickles, whose byte strings are the arrays' data.
    Obj makeBytes(std::uint64_t n)
    {
        if (m_globals == PickleGlobals::Torch)
            return makeText(PickleKind::Bytes, readBytes(n));
        if (n > m_size - m_pos)
            fail("a bytes length of " + std::to_string(n) + " runs past the end of the data");
        auto* o = make(PickleKind::Bytes);
        o->external = true;
        o->dataOffset = m_pos;
        o->dataSize = n;
        take(static_cast<std::size_t>(n));
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

    // unpickler_globals.cpp
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
    PickleGlobals m_globals;
    std::vector<Obj> m_stack;
    std::vector<std::size_t> m_marks;
    std::unordered_map<std::uint64_t, Obj> m_memo;
    std::map<std::pair<std::string, DType>, Obj> m_storages;
};

} // namespace qs::detail
