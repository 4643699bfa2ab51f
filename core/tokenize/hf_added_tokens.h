// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qs::hf {

struct AddedToken
{
    std::int64_t id = 0;
    std::string content;
    bool singleWord = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// A piece of text, or an added token found in it (id >= 0).
struct TextPiece
{
    std::string text;
    std::int64_t id = -1;
    std::size_t offset = 0; // byte offset in the text that was split
};

// Finds added tokens in text: leftmost, then longest, match; lstrip/rstrip swallow the
// whitespace beside a match, single_word only matches between non-word characters.
class AddedTokenMatcher
{
public:
    explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
    bool empty() const { return m_tokens.empty(); }
    std::vector<TextPiece> split(const std::string& text) const;

private:
    std::vector<AddedToken> m_tokens; // longest first
    std::vector<std::vector<std::size_t>> m_byFirstByte;
};

} // namespace qs::hf
