// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_bpe_model.h"

#include "tokenize/hf_component.h"
#include "tokenize/unicode_text.h"

#include <cstdio>
#include <queue>

namespace qs::hf {
namespace {

constexpr std::size_t kCacheWordBytes = 256;
constexpr std::size_t kCacheEntries = 200'000;

} // namespace

BpeModel::BpeModel(const nlohmann::json& j, const std::string& file)
    : m_prefix(stringField(j, "continuing_subword_prefix", "", file))
    , m_suffix(stringField(j, "end_of_word_suffix", "", file))
    , m_fuseUnk(boolField(j, "fuse_unk", false, file))
    , m_byteFallback(boolField(j, "byte_fallback", false, file))
    , m_ignoreMerges(boolField(j, "ignore_merges", false, file))
{
    if (j.contains("dropout") && j["dropout"].is_number() && j["dropout"].get<double>() > 0)
        throw UsageError("BPE dropout is not supported (it makes encoding random)", ErrorContext { file, {}, {} });
    readVocab(j.contains("vocab") ? j["vocab"] : nlohmann::json(), file);
    const std::string unk = stringField(j, "unk_token", "", file);
    if (!unk.empty()) {
        // The library loads an unk_token missing from the vocabulary and fails when a word needs
        // it (UnkTokenOutOfVocabulary); so does this, at encode.
        m_unk = tokenId(unk);
        if (!m_unk)
            m_missingUnk = unk;
    }
    m_fileName = file;

    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        const auto id = tokenId(name);
        m_byteIds[b] = id ? *id : -1;
    }

    if (!j.contains("merges") || !j["merges"].is_array())
        malformed("the BPE model has no \"merges\" list", file);
    std::int32_t rank = 0;
    for (const auto& m : j["merges"]) {
        std::string a, b;
        if (m.is_string()) {
            const std::string s = m.get<std::string>();
            const std::size_t space = s.find(' ', 1);
            if (space == std::string::npos)
                malformed("merge " + std::to_string(rank) + " \"" + s + "\" is not two tokens", file);
            a = s.substr(0, space);
            b = s.substr(space + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            a = m[0].get<std::string>();
            b = m[1].get<std::string>();
        } else {
            malformed("merge " + std::to_string(rank) + " is neither \"a b\" nor [a, b]", file);
        }
        const auto ida = tokenId(a), idb = tokenId(b);
        if (!ida || !idb)
            malformed("merge " + std::to_string(rank) + " uses a token missing from the vocabulary: "
                    + (ida ? b : a),
                file);
        const std::string bTail = (!m_prefix.empty() && b.compare(0, m_prefix.size(), m_prefix) == 0)
            ? b.substr(m_prefix.size())
            : b;
        const auto merged = tokenId(a + bTail);
        if (!merged)
            malformed("merge " + std::to_string(rank) + " makes \"" + a + bTail + "\", which is not in the vocabulary",
                file);
        // a repeated pair takes its last rank, as the library's HashMap collect does
        m_merges[pairKey(*ida, *idb)] = Merge { rank, *merged };
        ++rank;
    }
}

void BpeModel::initialSymbols(const std::string& word, std::vector<std::int64_t>& symbols) const
{
    std::optional<std::int64_t> pendingUnk;
    for (std::size_t pos = 0; pos < word.size();) {
        const std::size_t begin = pos;
        unicode::next(word, pos);
        std::string s = word.substr(begin, pos - begin);
        if (begin > 0)
            s.insert(0, m_prefix);
        if (pos == word.size())
            s += m_suffix;
        if (const auto id = tokenId(s)) {
            if (pendingUnk)
                symbols.push_back(*pendingUnk);
            pendingUnk.reset();
            symbols.push_back(*id);
            continue;
        }
        if (m_byteFallback) {
            bool all = true;
            for (std::size_t i = begin; i < pos; ++i)
                all = all && m_byteIds[static_cast<unsigned char>(word[i])] >= 0;
            if (all) {
                if (pendingUnk)
                    symbols.push_back(*pendingUnk);
                pendingUnk.reset();
                for (std::size_t i = begin; i < pos; ++i)
                    symbols.push_back(m_byteIds[static_cast<unsigned char>(word[i])]);
                continue;
            }
        }
        if (!m_unk) {
            if (!m_missingUnk.empty())
                throw FormatError("the BPE unk_token \"" + m_missingUnk
                        + "\" is not in the vocabulary, and the text has a character the vocabulary lacks",
                    ErrorContext { m_fileName, {}, {} });
            continue; // what the library does without an unk_token: the character is dropped
        }
        if (pendingUnk && !m_fuseUnk)
            symbols.push_back(*pendingUnk);
        pendingUnk = m_unk;
    }
    if (pendingUnk)
        symbols.push_back(*pendingUnk);
}

void BpeModel::merge(std::vector<std::int64_t>& symbols) const
{
    const std::size_t n = symbols.size();
    if (n < 2)
        return;
    std::vector<std::int64_t> prev(n), next(n);
    std::vector<bool> alive(n, true);
    for (std::size_t i = 0; i < n; ++i) {
        prev[i] = std::int64_t(i) - 1;
        next[i] = i + 1 < n ? std::int64_t(i + 1) : -1;
    }
    struct Candidate
    {
        std::int32_t rank;
        std::int64_t pos;
        std::int64_t left, right; // the ids when the candidate was made
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    const auto consider = [&](std::int64_t pos) {
        if (pos < 0 || next[std::size_t(pos)] < 0)
            return;
        const std::int64_t l = symbols[std::size_t(pos)], r = symbols[std::size_t(next[std::size_t(pos)])];
        const auto it = m_merges.find(pairKey(l, r));
        if (it != m_merges.end())
            queue.push({ it->second.rank, pos, l, r });
    };
    for (std::size_t i = 0; i + 1 < n; ++i)
        consider(std::int64_t(i));
    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        const auto pos = std::size_t(c.pos);
        if (!alive[pos] || next[pos] < 0 || symbols[pos] != c.left || symbols[std::size_t(next[pos])] != c.right)
            continue;
        const auto right = std::size_t(next[pos]);
        symbols[pos] = m_merges.at(pairKey(c.left, c.right)).id;
        alive[right] = false;
        next[pos] = next[right];
        if (next[pos] >= 0)
            prev[std::size_t(next[pos])] = std::int64_t(pos);
        consider(prev[pos]);
        consider(std::int64_t(pos));
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (alive[i])
            symbols[out++] = symbols[i];
    symbols.resize(out);
}

void BpeModel::tokenize(const std::string& word, std::vector<std::int64_t>& ids) const
{
    if (word.empty())
        return;
    if (m_ignoreMerges) {
        if (const auto id = tokenId(word)) {
            ids.push_back(*id);
            return;
        }
    }
    const bool cacheable = word.size() <= kCacheWordBytes;
    if (cacheable) {
        std::lock_guard<std::mutex> lock(m_cacheMutex);
        const auto it = m_cache.find(word);
        if (it != m_cache.end()) {
            ids.insert(ids.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<std::int64_t> symbols;
    symbols.reserve(word.size());
    initialSymbols(word, symbols);
    merge(symbols);
    ids.insert(ids.end(), symbols.begin(), symbols.end());
    if (cacheable) {
        std::lock_guard<std::mutex> lock(m_cacheMutex);
        if (m_cache.size() >= kCacheEntries)
            m_cache.clear();
        m_cache.emplace(word, std::move(symbols));
    }
}

} // namespace qs::hf
