// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace qs::hf {

// A tokenizer.json normalizer: BertNormalizer, Lowercase, NFC, NFD, NFKC, NFKD, StripAccents,
// Prepend, Replace, Strip, Sequence.
class Normalizer
{
public:
    virtual ~Normalizer() = default;
    virtual std::string normalize(const std::string& text) const = 0;
};

// Nothing for JSON null; UsageError naming the type and `file` for other types.
std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json& j, const std::string& file);

} // namespace qs::hf
