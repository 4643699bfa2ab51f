// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>

// The pickle opcodes QuantScope reads and writes (Python's Lib/pickle.py names them).
namespace qs::pickle_op {

constexpr std::uint8_t MARK = '(';
constexpr std::uint8_t STOP = '.';
constexpr std::uint8_t POP = '0';
constexpr std::uint8_t POP_MARK = '1';
constexpr std::uint8_t DUP = '2';
constexpr std::uint8_t INT = 'I';
constexpr std::uint8_t BININT = 'J';
constexpr std::uint8_t BININT1 = 'K';
constexpr std::uint8_t BININT2 = 'M';
constexpr std::uint8_t NONE = 'N';
constexpr std::uint8_t BINPERSID = 'Q';
constexpr std::uint8_t REDUCE = 'R';
constexpr std::uint8_t BINSTRING = 'T';
constexpr std::uint8_t SHORT_BINSTRING = 'U';
constexpr std::uint8_t BINUNICODE = 'X';
constexpr std::uint8_t APPEND = 'a';
constexpr std::uint8_t BUILD = 'b';
constexpr std::uint8_t GLOBAL = 'c';
constexpr std::uint8_t DICT = 'd';
constexpr std::uint8_t EMPTY_DICT = '}';
constexpr std::uint8_t APPENDS = 'e';
constexpr std::uint8_t BINGET = 'h';
constexpr std::uint8_t LONG_BINGET = 'j';
constexpr std::uint8_t LIST = 'l';
constexpr std::uint8_t EMPTY_LIST = ']';
constexpr std::uint8_t BINPUT = 'q';
constexpr std::uint8_t LONG_BINPUT = 'r';
constexpr std::uint8_t SETITEM = 's';
constexpr std::uint8_t TUPLE = 't';
constexpr std::uint8_t EMPTY_TUPLE = ')';
constexpr std::uint8_t SETITEMS = 'u';
constexpr std::uint8_t BINFLOAT = 'G';
// protocol 2
constexpr std::uint8_t PROTO = 0x80;
constexpr std::uint8_t NEWOBJ = 0x81;
constexpr std::uint8_t TUPLE1 = 0x85;
constexpr std::uint8_t TUPLE2 = 0x86;
constexpr std::uint8_t TUPLE3 = 0x87;
constexpr std::uint8_t NEWTRUE = 0x88;
constexpr std::uint8_t NEWFALSE = 0x89;
constexpr std::uint8_t LONG1 = 0x8a;
constexpr std::uint8_t LONG4 = 0x8b;
// protocol 3
constexpr std::uint8_t BINBYTES = 'B';
constexpr std::uint8_t SHORT_BINBYTES = 'C';
// protocol 4
constexpr std::uint8_t SHORT_BINUNICODE = 0x8c;
constexpr std::uint8_t BINUNICODE8 = 0x8d;
constexpr std::uint8_t BINBYTES8 = 0x8e;
constexpr std::uint8_t EMPTY_SET = 0x8f;
constexpr std::uint8_t ADDITEMS = 0x90;
constexpr std::uint8_t FROZENSET = 0x91;
constexpr std::uint8_t STACK_GLOBAL = 0x93;
constexpr std::uint8_t MEMOIZE = 0x94;
constexpr std::uint8_t FRAME = 0x95;
// protocol 5
constexpr std::uint8_t BYTEARRAY8 = 0x96;
constexpr std::uint8_t NEXT_BUFFER = 0x97;
constexpr std::uint8_t READONLY_BUFFER = 0x98;

} // namespace qs::pickle_op
