// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace qs::hf {

// One piece of text on its way to the model. `atStart`: it begins at the start of the input
// (Metaspace's prepend_scheme "first" only prepends there).
struct Split
{
    std::string text;
    bool atStart = false;
};

// A tokenizer.json pre-tokenizer: ByteLevel, Split, BertPreTokenizer, Whitespace,
// WhitespaceSplit, Metaspace, Digits, Punctuation, Sequence. It cuts every split into smaller
// ones (and ByteLevel maps bytes to its printable alphabet).
class PreTokenizer
{
public:
    virtual ~PreTokenizer() = default;
    virtual void apply(std::vector<Split>& splits) const = 0;
};

// Nothing for JSON null; UsageError naming the type and `file` for other types.
std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json& j, const std::string& file);

// GPT-2's byte-to-unicode alphabet: printable Latin-1 bytes stand for themselves, the others
// for U+0100 onwards. byteLevelChar(b) is the UTF-8 of the character standing for byte b;
// byteOfChar is the inverse (-1 for a character outside the alphabet).
const std::string& byteLevelChar(unsigned char byte);
int byteOfChar(char32_t cp);

} // namespace qs::hf
