// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qs::hf {

// A tokenizer.json model: the vocabulary and how one pre-tokenized word becomes ids.
class Model
{
public:
    virtual ~Model() = default;
    virtual std::string kind() const = 0; // "bpe", "wordpiece", "wordlevel"
    virtual void tokenize(const std::string& word, std::vector<std::int64_t>& ids) const = 0;

    std::int64_t size() const { return static_cast<std::int64_t>(m_tokens.size()); }
    std::optional<std::int64_t> tokenId(std::string_view token) const;
    // The token of an id, or nullptr when the vocabulary has none there.
    const std::string* token(std::int64_t id) const;

protected:
    // Reads the "vocab" object {token: id}; FormatError naming `file` when malformed.
    void readVocab(const nlohmann::json& vocab, const std::string& file);
    // An id that must exist (unk_token and the like); FormatError otherwise.
    std::int64_t requireId(const std::string& token, const char* role, const std::string& file) const;

    std::unordered_map<std::string, std::int64_t> m_vocab;
    std::vector<std::string> m_tokens; // by id; "" where the vocabulary has a gap
    std::vector<bool> m_present;
};

// BPE, WordPiece or WordLevel; UsageError naming the type and `file` for others (Unigram).
std::unique_ptr<Model> makeModel(const nlohmann::json& j, const std::string& file);

} // namespace qs::hf
