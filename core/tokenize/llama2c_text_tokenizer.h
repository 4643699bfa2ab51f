// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "tokenize/llama2c_tokenizer.h"
#include "tokenize/tokenizer.h"

namespace qs {

// A llama2.c tokenizer behind the Tokenizer interface: run.c's encode (BOS and the dummy
// prefix with addSpecial; without it, neither) and decode.
class Llama2cTextTokenizer : public Tokenizer
{
public:
    explicit Llama2cTextTokenizer(Llama2cTokenizer tokenizer);

    std::string kind() const override { return "llama2c"; }
    std::int64_t vocabSize() const override { return m_tokenizer.size(); }
    std::vector<std::int64_t> encode(std::string_view text, bool addSpecial) const override;
    std::string decode(const std::vector<std::int64_t>& ids) const override;
    std::optional<std::int64_t> tokenId(std::string_view token) const override;
    std::optional<std::int64_t> bosToken() const override { return Llama2cTokenizer::kBos; }
    std::optional<std::int64_t> eosToken() const override { return Llama2cTokenizer::kEos; }

private:
    Llama2cTokenizer m_tokenizer;
};

} // namespace qs
