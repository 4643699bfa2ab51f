// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "tokenize/hf_added_tokens.h"
#include "tokenize/tokenizer.h"

#include <nlohmann/json.hpp>

namespace qs::hf {
class Normalizer;
class PreTokenizer;
class Model;
class Decoder;
} // namespace qs::hf

namespace qs {

// A Hugging Face tokenizer.json: added tokens are cut out of the raw text first (those with
// normalized=true after normalization), then normalizer, pre-tokenizer and model run on the
// rest; addSpecial applies the post-processor (TemplateProcessing, BertProcessing,
// RobertaProcessing, ByteLevel, Sequence) for a single sequence. Components outside the
// supported set are a UsageError naming them and the file, never a silent approximation.
class HfTokenizer : public Tokenizer
{
public:
    // FormatError (malformed JSON or structure) / UsageError (unsupported component), naming
    // `fileName`.
    HfTokenizer(const nlohmann::json& j, const std::string& fileName);
    static std::unique_ptr<HfTokenizer> read(const std::filesystem::path& file);
    ~HfTokenizer() override;

    std::string kind() const override;
    std::int64_t vocabSize() const override;
    std::vector<std::int64_t> encode(std::string_view text, bool addSpecial) const override;
    std::string decode(const std::vector<std::int64_t>& ids) const override;
    std::optional<std::int64_t> tokenId(std::string_view token) const override;
    std::optional<std::int64_t> maskToken() const override;
    std::optional<std::int64_t> bosToken() const override;
    std::optional<std::int64_t> eosToken() const override;

private:
    void readAddedTokens(const nlohmann::json& list);
    void readPostProcessor(const nlohmann::json& j);
    void encodeText(const std::string& text, bool atStart, std::vector<std::int64_t>& ids) const;
    const std::string* tokenOf(std::int64_t id) const;
    std::optional<std::int64_t> firstKnown(std::initializer_list<const char*> tokens) const;

    std::string m_fileName;
    std::unique_ptr<hf::Normalizer> m_normalizer;
    std::unique_ptr<hf::PreTokenizer> m_preTokenizer;
    std::unique_ptr<hf::Model> m_model;
    std::unique_ptr<hf::Decoder> m_decoder;
    std::vector<hf::AddedToken> m_added;
    std::unique_ptr<hf::AddedTokenMatcher> m_rawMatcher, m_normalizedMatcher;
    std::vector<std::int64_t> m_prefix, m_suffix; // the post-processor's, for one sequence
};

} // namespace qs
