// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/unicode_text.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <stdexcept>

namespace qs::unicode {

char32_t next(std::string_view text, std::size_t& pos)
{
    // ICU's macros index with int32_t: give them a window of at most 4 bytes (one sequence) so
    // that positions past 2 GiB stay in size_t.
    if (pos >= text.size()) {
        pos = text.size() + 1; // as U8_NEXT would: past the end
        return U'\uFFFD';
    }
    const auto* s = reinterpret_cast<const std::uint8_t*>(text.data() + pos);
    const auto n = static_cast<std::int32_t>(std::min<std::size_t>(4, text.size() - pos));
    std::int32_t i = 0;
    UChar32 c = 0;
    U8_NEXT(s, i, n, c);
    pos += static_cast<std::size_t>(i);
    return c < 0 ? U'\uFFFD' : static_cast<char32_t>(c);
}

void append(std::string& out, char32_t cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string fromCodepoint(char32_t cp)
{
    std::string s;
    append(s, cp);
    return s;
}

std::size_t length(std::string_view text)
{
    std::size_t n = 0;
    for (std::size_t pos = 0; pos < text.size(); ++n)
        next(text, pos);
    return n;
}

bool isWhitespace(char32_t cp)
{
    return u_isUWhiteSpace(static_cast<UChar32>(cp));
}

bool isPunctuation(char32_t cp)
{
    if (cp < 0x80)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
    return u_ispunct(static_cast<UChar32>(cp));
}

bool isNumeric(char32_t cp)
{
    return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_N_MASK) != 0;
}

bool isAlphanumeric(char32_t cp)
{
    return u_isalnum(static_cast<UChar32>(cp));
}

bool isOther(char32_t cp)
{
    return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_C_MASK) != 0;
}

bool isMarkNonspacing(char32_t cp)
{
    return u_charType(static_cast<UChar32>(cp)) == U_NON_SPACING_MARK;
}

bool isMark(char32_t cp)
{
    return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_M_MASK) != 0;
}

bool isCjk(char32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

namespace {

icu::UnicodeString toIcu(std::string_view text)
{
    // UnicodeString lengths are int32_t; Tokenizer::encode refuses text over 1 GiB before this.
    if (text.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::length_error("text of " + std::to_string(text.size()) + " bytes is too long for ICU");
    return icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<std::int32_t>(text.size())));
}

std::string fromIcu(const icu::UnicodeString& s)
{
    std::string out;
    s.toUTF8String(out);
    return out;
}

// \s and \S as the White_Space property (ICU's \s is [\t\n\f\r\p{Z}], without \x0B and \x85).
std::string translatePattern(const std::string& pattern)
{
    std::string out;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '\\' && i + 1 < pattern.size()) {
            const char c = pattern[++i];
            if (c == 's')
                out += "\\p{White_Space}";
            else if (c == 'S')
                out += "\\P{White_Space}";
            else
                out += {'\\', c};
        } else {
            out += pattern[i];
        }
    }
    return out;
}

} // namespace

std::string normalize(std::string_view text, NormalForm form)
{
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = nullptr;
    switch (form) {
    case NormalForm::Nfc:
        n = icu::Normalizer2::getNFCInstance(status);
        break;
    case NormalForm::Nfd:
        n = icu::Normalizer2::getNFDInstance(status);
        break;
    case NormalForm::Nfkc:
        n = icu::Normalizer2::getNFKCInstance(status);
        break;
    case NormalForm::Nfkd:
        n = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    if (U_FAILURE(status))
        throw std::runtime_error(std::string("ICU normalizer unavailable: ") + u_errorName(status));
    const icu::UnicodeString result = n->normalize(toIcu(text), status);
    if (U_FAILURE(status))
        throw std::runtime_error(std::string("ICU normalization failed: ") + u_errorName(status));
    return fromIcu(result);
}

std::string toLower(std::string_view text)
{
    icu::UnicodeString s = toIcu(text);
    // Per character, as Rust's char::to_lowercase: ICU's string mapping applies Final_Sigma
    // (Σ at the end of a word becomes ς), the tokenizers library always gives σ.
    s.findAndReplace(icu::UnicodeString(static_cast<UChar32>(0x03A3)), icu::UnicodeString(static_cast<UChar32>(0x03C3)));
    s.toLower(icu::Locale::getRoot());
    return fromIcu(s);
}

// A matcher with its UText, reused across findAll calls (creating them per call dominated
// the pre-tokenizer's time on short words).
struct MatcherSlot
{
    std::unique_ptr<icu::RegexMatcher> matcher;
    UText* text = nullptr;
    MatcherSlot() = default;
    MatcherSlot(const MatcherSlot&) = delete;
    MatcherSlot& operator=(const MatcherSlot&) = delete;
    ~MatcherSlot()
    {
        matcher.reset(); // it holds a shallow clone of `text`
        if (text)
            utext_close(text);
    }
};

// The compiled pattern is immutable and shared; matchers are not thread-safe, so each call
// takes one from a small pool (a mutex guards only the pool) and gives it back, which keeps
// one Regex usable from several threads at once.
struct Regex::Impl
{
    std::unique_ptr<icu::RegexPattern> pattern;
    std::mutex poolMutex;
    std::vector<std::unique_ptr<MatcherSlot>> pool;

    std::unique_ptr<MatcherSlot> take()
    {
        {
            std::lock_guard<std::mutex> lock(poolMutex);
            if (!pool.empty()) {
                auto slot = std::move(pool.back());
                pool.pop_back();
                return slot;
            }
        }
        auto slot = std::make_unique<MatcherSlot>();
        UErrorCode status = U_ZERO_ERROR;
        slot->matcher.reset(pattern->matcher(status));
        if (U_FAILURE(status))
            throw std::runtime_error(std::string("ICU regex failed: ") + u_errorName(status));
        return slot;
    }
    void give(std::unique_ptr<MatcherSlot> slot)
    {
        std::lock_guard<std::mutex> lock(poolMutex);
        if (pool.size() < 64)
            pool.push_back(std::move(slot));
    }
};

Regex::Regex(const std::string& pattern)
    : m_impl(std::make_unique<Impl>())
{
    UParseError parseError {};
    UErrorCode status = U_ZERO_ERROR;
    m_impl->pattern.reset(icu::RegexPattern::compile(toIcu(translatePattern(pattern)), 0, parseError, status));
    if (U_FAILURE(status))
        throw std::invalid_argument(std::string("invalid regular expression (") + u_errorName(status) + ") at offset "
            + std::to_string(parseError.offset));
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::vector<std::pair<std::size_t, std::size_t>> Regex::findAll(std::string_view text) const
{
    std::vector<std::pair<std::size_t, std::size_t>> out;
    if (text.empty())
        return out;
    if (text.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::length_error("text of " + std::to_string(text.size()) + " bytes is too long for ICU's regex");
    std::unique_ptr<MatcherSlot> slot = m_impl->take();
    UErrorCode status = U_ZERO_ERROR;
    slot->text = utext_openUTF8(slot->text, text.data(), static_cast<std::int64_t>(text.size()), &status);
    if (U_FAILURE(status))
        throw std::runtime_error(std::string("ICU regex failed: ") + u_errorName(status));
    icu::RegexMatcher& matcher = *slot->matcher;
    matcher.reset(slot->text);
    while (matcher.find(status) && U_SUCCESS(status)) {
        const auto b = static_cast<std::size_t>(matcher.start64(status));
        const auto e = static_cast<std::size_t>(matcher.end64(status));
        if (e > b)
            out.emplace_back(b, e);
    }
    if (U_FAILURE(status))
        throw std::runtime_error(std::string("ICU regex failed: ") + u_errorName(status)); // drops the slot
    m_impl->give(std::move(slot));
    if (U_FAILURE(status))
        throw std::runtime_error(std::string("ICU regex failed: ") + u_errorName(status));
    return out;
}

std::string replaceAll(std::string_view text, std::string_view from, std::string_view to)
{
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (true) {
        const std::size_t hit = text.find(from, pos);
        if (hit == std::string_view::npos)
            break;
        out.append(text.substr(pos, hit - pos));
        out.append(to);
        pos = hit + from.size();
    }
    out.append(text.substr(pos));
    return out;
}

} // namespace qs::unicode
