// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "tokenize/tokenizer.h"

#include <unordered_map>

namespace qs {

// nanoGPT's character vocabulary (data/shakespeare_char/prepare.py writes it to meta.pkl as
// {"vocab_size", "itos": {int: str}, "stoi": {str: int}}): one id per Unicode codepoint.
class CharTokenizer : public Tokenizer
{
public:
    // Reads a meta.pkl with the project's restricted unpickler. FormatError for a malformed
    // pickle or vocabulary, UsageError for a meta.pkl of another kind (no stoi/itos).
    static std::unique_ptr<CharTokenizer> read(const std::filesystem::path& file);
    // From codepoint strings in id order (for tests and other sources).
    CharTokenizer(std::vector<std::string> itos, std::string fileName);

    std::string kind() const override { return "char"; }
    std::int64_t vocabSize() const override { return static_cast<std::int64_t>(m_itos.size()); }
    // UsageError naming the character (and its position) when it has no id.
    std::vector<std::int64_t> encode(std::string_view text, bool addSpecial) const override;
    std::string decode(const std::vector<std::int64_t>& ids) const override;
    std::optional<std::int64_t> tokenId(std::string_view token) const override;

private:
    std::vector<std::string> m_itos;
    std::unordered_map<std::string, std::int64_t> m_stoi;
    std::string m_fileName;
};

} // namespace qs
