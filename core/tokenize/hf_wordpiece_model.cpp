// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_wordpiece_model.h"

#include "tokenize/hf_component.h"
#include "tokenize/unicode_text.h"

namespace qs::hf {

WordPieceModel::WordPieceModel(const nlohmann::json& j, const std::string& file)
    : m_prefix(stringField(j, "continuing_subword_prefix", "##", file))
{
    readVocab(j.contains("vocab") ? j["vocab"] : nlohmann::json(), file);
    m_unk = requireId(stringField(j, "unk_token", "[UNK]", file), "unk_token", file);
    const std::int64_t maxChars = intField(j, "max_input_chars_per_word", 100, file);
    if (maxChars <= 0)
        malformed("max_input_chars_per_word is not positive", file);
    m_maxChars = std::size_t(maxChars);
}

void WordPieceModel::tokenize(const std::string& word, std::vector<std::int64_t>& ids) const
{
    if (word.empty())
        return;
    // Character boundaries, so pieces never cut a codepoint.
    std::vector<std::size_t> bounds { 0 };
    for (std::size_t pos = 0; pos < word.size();) {
        unicode::next(word, pos);
        bounds.push_back(pos);
    }
    if (bounds.size() - 1 > m_maxChars) {
        ids.push_back(m_unk);
        return;
    }
    std::vector<std::int64_t> pieces;
    std::size_t start = 0; // index into bounds
    while (start + 1 < bounds.size()) {
        std::size_t end = bounds.size() - 1;
        std::optional<std::int64_t> found;
        for (; end > start; --end) {
            std::string piece = word.substr(bounds[start], bounds[end] - bounds[start]);
            if (start > 0)
                piece.insert(0, m_prefix);
            if ((found = tokenId(piece)))
                break;
        }
        if (!found) {
            ids.push_back(m_unk);
            return;
        }
        pieces.push_back(*found);
        start = end;
    }
    ids.insert(ids.end(), pieces.begin(), pieces.end());
}

WordLevelModel::WordLevelModel(const nlohmann::json& j, const std::string& file)
{
    readVocab(j.contains("vocab") ? j["vocab"] : nlohmann::json(), file);
    m_unk = requireId(stringField(j, "unk_token", "<unk>", file), "unk_token", file);
}

void WordLevelModel::tokenize(const std::string& word, std::vector<std::int64_t>& ids) const
{
    if (!word.empty())
        ids.push_back(tokenId(word).value_or(m_unk));
}

} // namespace qs::hf
