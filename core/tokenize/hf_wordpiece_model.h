// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "tokenize/hf_model.h"

namespace qs::hf {

// WordPiece (BERT): the longest vocabulary prefix first, then the longest continuation spelled
// with continuing_subword_prefix ("##"), and so on; a word with an unmatchable rest, or longer
// than max_input_chars_per_word characters, becomes unk_token.
class WordPieceModel : public Model
{
public:
    WordPieceModel(const nlohmann::json& j, const std::string& file);

    std::string kind() const override { return "wordpiece"; }
    void tokenize(const std::string& word, std::vector<std::int64_t>& ids) const override;

private:
    std::int64_t m_unk = 0;
    std::string m_prefix;
    std::size_t m_maxChars = 100;
};

// WordLevel: each word is a vocabulary entry or unk_token.
class WordLevelModel : public Model
{
public:
    WordLevelModel(const nlohmann::json& j, const std::string& file);

    std::string kind() const override { return "wordlevel"; }
    void tokenize(const std::string& word, std::vector<std::int64_t>& ids) const override;

private:
    std::int64_t m_unk = 0;
};

} // namespace qs::hf
