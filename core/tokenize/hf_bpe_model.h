// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "tokenize/hf_model.h"

#include <mutex>

namespace qs::hf {

// Byte-pair encoding as the tokenizers library does it: a word starts as one symbol per
// character (continuing_subword_prefix / end_of_word_suffix applied, byte_fallback to <0xNN>
// tokens, else unk_token, fused when fuse_unk), then the adjacent pair of lowest merge rank
// merges (leftmost first) until none is left. ignore_merges takes a word found whole in the
// vocabulary as it is. Merges are "a b" strings or [a, b] pairs. Words are cached.
class BpeModel : public Model
{
public:
    BpeModel(const nlohmann::json& j, const std::string& file);

    std::string kind() const override { return "bpe"; }
    void tokenize(const std::string& word, std::vector<std::int64_t>& ids) const override;

private:
    struct Merge
    {
        std::int32_t rank;
        std::int64_t id;
    };
    static std::uint64_t pairKey(std::int64_t a, std::int64_t b) { return (std::uint64_t(a) << 32) | std::uint64_t(b); }
    void initialSymbols(const std::string& word, std::vector<std::int64_t>& symbols) const;
    void merge(std::vector<std::int64_t>& symbols) const;

    std::unordered_map<std::uint64_t, Merge> m_merges;
    std::optional<std::int64_t> m_unk;
    std::string m_missingUnk; // an unk_token the vocabulary lacks: FormatError when needed
    std::string m_fileName;
    std::string m_prefix, m_suffix;
    bool m_fuseUnk = false, m_byteFallback = false, m_ignoreMerges = false;
    std::int64_t m_byteIds[256];
    bool m_haveAllBytes = false;

    mutable std::mutex m_cacheMutex;
    mutable std::unordered_map<std::string, std::vector<std::int64_t>> m_cache;
};

} // namespace qs::hf
