// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace qs::hf {

// A tokenizer.json decoder: ByteLevel, WordPiece, Metaspace, ByteFallback, Fuse, Strip,
// Replace, Sequence. It rewrites the token strings; the result is their concatenation.
class Decoder
{
public:
    virtual ~Decoder() = default;
    virtual void decodeChain(std::vector<std::string>& tokens) const = 0;
};

// Nothing for JSON null; UsageError naming the type and `file` for other types.
std::unique_ptr<Decoder> makeDecoder(const nlohmann::json& j, const std::string& file);

} // namespace qs::hf
