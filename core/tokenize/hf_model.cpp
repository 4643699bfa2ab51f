// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_model.h"

#include "tokenize/hf_bpe_model.h"
#include "tokenize/hf_component.h"
#include "tokenize/hf_wordpiece_model.h"

namespace qs::hf {

std::optional<std::int64_t> Model::tokenId(std::string_view token) const
{
    const auto it = m_vocab.find(std::string(token));
    return it == m_vocab.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
}

const std::string* Model::token(std::int64_t id) const
{
    if (id < 0 || id >= size() || !m_present[std::size_t(id)])
        return nullptr;
    return &m_tokens[std::size_t(id)];
}

void Model::readVocab(const nlohmann::json& vocab, const std::string& file)
{
    if (!vocab.is_object())
        malformed("the model's \"vocab\" is not an object of token: id", file);
    // The id table is sized by the largest id: bound it by the number of entries so that a
    // malformed file cannot make it huge (real vocabularies have few gaps).
    const auto maxId = std::int64_t(4) * std::int64_t(vocab.size()) + 1024;
    for (const auto& [token, id] : vocab.items()) {
        if (!id.is_number_integer() || id.get<std::int64_t>() < 0)
            malformed("vocab entry \"" + token + "\" has no valid id", file);
        const auto i = id.get<std::int64_t>();
        if (i > maxId)
            malformed("vocab entry \"" + token + "\" has id " + std::to_string(i) + ", far beyond the "
                    + std::to_string(vocab.size()) + " entries (at most " + std::to_string(maxId) + ")",
                file);
        if (i >= size()) {
            m_tokens.resize(std::size_t(i) + 1);
            m_present.resize(std::size_t(i) + 1, false);
        }
        m_tokens[std::size_t(i)] = token;
        m_present[std::size_t(i)] = true;
        m_vocab[token] = i;
    }
}

std::int64_t Model::requireId(const std::string& token, const char* role, const std::string& file) const
{
    const auto id = tokenId(token);
    if (!id)
        malformed(std::string(role) + " \"" + token + "\" is not in the vocabulary", file);
    return *id;
}

std::unique_ptr<Model> makeModel(const nlohmann::json& j, const std::string& file)
{
    if (!j.is_object())
        malformed("no \"model\" object", file);
    // Old files omit the type of a BPE model.
    const std::string type = j.contains("type") ? componentType(j, "model", file) : "BPE";
    if (type == "BPE")
        return std::make_unique<BpeModel>(j, file);
    if (type == "WordPiece")
        return std::make_unique<WordPieceModel>(j, file);
    if (type == "WordLevel")
        return std::make_unique<WordLevelModel>(j, file);
    unsupported("model", type, file);
}

} // namespace qs::hf
