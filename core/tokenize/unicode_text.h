// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Unicode helpers for the tokenizers, on UTF-8 std::strings (ICU underneath; no ICU types in
// this header). Invalid UTF-8 reads as one U+FFFD per maximal invalid subsequence (as Rust's
// String::from_utf8_lossy).
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qs::unicode {

// The next codepoint of `text` at byte `pos`; advances `pos`. U+FFFD for an invalid byte.
char32_t next(std::string_view text, std::size_t& pos);
void append(std::string& out, char32_t cp);
std::string fromCodepoint(char32_t cp);
std::size_t length(std::string_view text); // in codepoints

bool isWhitespace(char32_t cp); // the White_Space property (Rust's char::is_whitespace)
bool isPunctuation(char32_t cp); // ASCII punctuation or a P* category
bool isNumeric(char32_t cp); // an N* category
bool isAlphanumeric(char32_t cp); // a letter or a digit (u_isalnum)
bool isOther(char32_t cp); // a C* category (control, format, unassigned, private use)
bool isMarkNonspacing(char32_t cp); // Mn
bool isMark(char32_t cp); // Mn, Mc, Me
bool isCjk(char32_t cp); // the CJK ideograph blocks BERT pads with spaces

enum class NormalForm
{
    Nfc,
    Nfd,
    Nfkc,
    Nfkd
};
std::string normalize(std::string_view text, NormalForm form);
std::string toLower(std::string_view text); // full lower-case mapping, root locale

// A compiled regular expression with Unicode properties (\p{L}, lookahead, (?i:...)); `\s` and
// `\S` mean the White_Space property as in Rust's regex crate. Throws std::invalid_argument with
// ICU's message when the pattern does not compile.
class Regex
{
public:
    explicit Regex(const std::string& pattern);
    ~Regex();
    Regex(Regex&&) noexcept;
    Regex& operator=(Regex&&) noexcept;

    // Byte ranges [begin, end) of every non-empty match, left to right.
    std::vector<std::pair<std::size_t, std::size_t>> findAll(std::string_view text) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Every occurrence of `from` replaced with `to` (`from` not empty).
std::string replaceAll(std::string_view text, std::string_view from, std::string_view to);

} // namespace qs::unicode
