// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "tokenize/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace qs {

// A SentencePiece `.model` through libsentencepiece: its own normalization and BPE or
// unigram segmentation; addSpecial puts the model's BOS first (when it has one).
class SentencePieceTokenizer : public Tokenizer
{
public:
    // FormatError naming the file when libsentencepiece cannot load it.
    explicit SentencePieceTokenizer(const std::filesystem::path& file);
    ~SentencePieceTokenizer() override;

    std::string kind() const override { return "sentencepiece"; }
    std::int64_t vocabSize() const override;
    std::vector<std::int64_t> encode(std::string_view text, bool addSpecial) const override;
    std::string decode(const std::vector<std::int64_t>& ids) const override;
    std::optional<std::int64_t> tokenId(std::string_view token) const override;
    std::optional<std::int64_t> bosToken() const override;
    std::optional<std::int64_t> eosToken() const override;

private:
    std::unique_ptr<sentencepiece::SentencePieceProcessor> m_processor;
    std::string m_fileName;
};

} // namespace qs
