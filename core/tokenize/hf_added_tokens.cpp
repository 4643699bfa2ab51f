// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_added_tokens.h"

#include "tokenize/unicode_text.h"

#include <algorithm>

namespace qs::hf {
namespace {

bool isWordChar(char32_t c)
{
    return c == '_' || unicode::isAlphanumeric(c);
}

// The codepoint ending just before byte `end` (there is one: end > 0).
char32_t previousChar(const std::string& s, std::size_t end)
{
    std::size_t begin = end - 1;
    while (begin > 0 && (static_cast<unsigned char>(s[begin]) & 0xC0) == 0x80 && end - begin < 4)
        --begin;
    return unicode::next(s, begin);
}

} // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens)
    : m_tokens(std::move(tokens))
    , m_byFirstByte(256)
{
    m_tokens.erase(std::remove_if(m_tokens.begin(), m_tokens.end(), [](const AddedToken& t) { return t.content.empty(); }),
        m_tokens.end());
    std::stable_sort(m_tokens.begin(), m_tokens.end(),
        [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
    for (std::size_t i = 0; i < m_tokens.size(); ++i)
        m_byFirstByte[static_cast<unsigned char>(m_tokens[i].content.front())].push_back(i);
}

std::vector<TextPiece> AddedTokenMatcher::split(const std::string& text) const
{
    std::vector<TextPiece> out;
    std::size_t done = 0; // text before this is emitted
    for (std::size_t at = 0; at < text.size(); ++at) {
        const AddedToken* hit = nullptr;
        for (const std::size_t i : m_byFirstByte[static_cast<unsigned char>(text[at])]) {
            const AddedToken& t = m_tokens[i];
            if (text.compare(at, t.content.size(), t.content) != 0)
                continue;
            if (t.singleWord) {
                const std::size_t end = at + t.content.size();
                std::size_t pos = end;
                if ((at > 0 && isWordChar(previousChar(text, at))) || (end < text.size() && isWordChar(unicode::next(text, pos))))
                    continue;
            }
            hit = &t;
            break;
        }
        if (!hit)
            continue;
        std::size_t begin = at, end = at + hit->content.size();
        if (hit->lstrip)
            while (begin > done && unicode::isWhitespace(previousChar(text, begin))) {
                std::size_t b = begin - 1;
                while (b > done && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80)
                    --b;
                begin = b;
            }
        if (hit->rstrip)
            for (std::size_t pos = end; pos < text.size();) {
                if (!unicode::isWhitespace(unicode::next(text, pos)))
                    break;
                end = pos;
            }
        if (begin > done)
            out.push_back({ text.substr(done, begin - done), -1, done });
        out.push_back({ text.substr(begin, end - begin), hit->id, begin });
        done = end;
        at = end - 1;
    }
    if (done < text.size())
        out.push_back({ text.substr(done), -1, done });
    return out;
}

} // namespace qs::hf
