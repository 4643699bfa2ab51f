// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/llama2c_text_tokenizer.h"

#include "error.h"

namespace qs {

Llama2cTextTokenizer::Llama2cTextTokenizer(Llama2cTokenizer tokenizer)
    : m_tokenizer(std::move(tokenizer))
{
}

std::vector<std::int64_t> Llama2cTextTokenizer::encode(std::string_view text, bool addSpecial) const
{
    const std::vector<int> ids = m_tokenizer.encode(text, addSpecial, false);
    return { ids.begin(), ids.end() };
}

std::string Llama2cTextTokenizer::decode(const std::vector<std::int64_t>& ids) const
{
    // Llama2cTokenizer drops the dummy prefix after BOS; text encoded without BOS has it too.
    std::vector<int> narrow;
    narrow.reserve(ids.size() + 1);
    if (ids.empty() || ids.front() != Llama2cTokenizer::kBos)
        narrow.push_back(Llama2cTokenizer::kBos);
    for (const std::int64_t id : ids) {
        if (id < 0 || id >= m_tokenizer.size())
            throw UsageError("token id " + std::to_string(id) + " is outside the vocabulary of "
                + std::to_string(m_tokenizer.size()) + " tokens");
        narrow.push_back(static_cast<int>(id));
    }
    return m_tokenizer.decode(narrow);
}

std::optional<std::int64_t> Llama2cTextTokenizer::tokenId(std::string_view token) const
{
    if (const auto id = m_tokenizer.find(token))
        return *id;
    return std::nullopt;
}

} // namespace qs
