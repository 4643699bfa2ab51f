// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_pre_tokenizer.h"

#include "tokenize/hf_component.h"
#include "tokenize/unicode_text.h"

#include <algorithm>
#include <array>
#include <functional>
#include <stdexcept>

namespace qs::hf {
namespace {

const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class Behavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous
};

Behavior behaviorOf(const nlohmann::json& j, const char* key, Behavior fallback, const std::string& file)
{
    const std::string b = stringField(j, key, "", file);
    if (b.empty())
        return fallback;
    if (b == "Removed")
        return Behavior::Removed;
    if (b == "Isolated")
        return Behavior::Isolated;
    if (b == "MergedWithPrevious")
        return Behavior::MergedWithPrevious;
    if (b == "MergedWithNext")
        return Behavior::MergedWithNext;
    if (b == "Contiguous")
        return Behavior::Contiguous;
    unsupported("split behavior", b, file);
}

using Range = std::pair<std::size_t, std::size_t>;

// Cuts `split` at the `matches` (sorted, disjoint byte ranges) as the behavior says, like the
// tokenizers library's NormalizedString::split; empty pieces are dropped.
void splitAt(const Split& split, const std::vector<Range>& matches, Behavior behavior, bool invert,
    std::vector<Split>& out)
{
    const std::string& s = split.text;
    std::vector<std::pair<Range, bool>> parts; // every byte, match or not
    std::size_t at = 0;
    for (const auto& m : matches) {
        if (m.first > at)
            parts.push_back({ { at, m.first }, invert });
        parts.push_back({ m, !invert });
        at = m.second;
    }
    if (at < s.size())
        parts.push_back({ { at, s.size() }, invert });

    std::vector<Range> pieces;
    bool previousMatch = false;
    switch (behavior) {
    case Behavior::Removed:
        for (const auto& [r, isMatch] : parts)
            if (!isMatch)
                pieces.push_back(r);
        break;
    case Behavior::Isolated:
        for (const auto& [r, isMatch] : parts)
            pieces.push_back(r);
        break;
    case Behavior::MergedWithPrevious:
        for (const auto& [r, isMatch] : parts) {
            if (isMatch && !previousMatch && !pieces.empty())
                pieces.back().second = r.second;
            else
                pieces.push_back(r);
            previousMatch = isMatch;
        }
        break;
    case Behavior::MergedWithNext:
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            if (it->second && !previousMatch && !pieces.empty())
                pieces.back().first = it->first.first;
            else
                pieces.push_back(it->first);
            previousMatch = it->second;
        }
        std::reverse(pieces.begin(), pieces.end());
        break;
    case Behavior::Contiguous:
        for (std::size_t i = 0; i < parts.size(); ++i) {
            if (i > 0 && parts[i].second == previousMatch)
                pieces.back().second = parts[i].first.second;
            else
                pieces.push_back(parts[i].first);
            previousMatch = parts[i].second;
        }
        break;
    }
    for (const auto& [b, e] : pieces)
        if (e > b)
            out.push_back({ s.substr(b, e - b), split.atStart && b == 0 });
}

// Each character for which `predicate` holds, as its own match.
std::vector<Range> charMatches(const std::string& s, const std::function<bool(char32_t)>& predicate)
{
    std::vector<Range> matches;
    for (std::size_t pos = 0; pos < s.size();) {
        const std::size_t begin = pos;
        if (predicate(unicode::next(s, pos)))
            matches.push_back({ begin, pos });
    }
    return matches;
}

class CharSplit : public PreTokenizer
{
public:
    CharSplit(std::function<bool(char32_t)> predicate, Behavior behavior)
        : m_predicate(std::move(predicate))
        , m_behavior(behavior)
    {
    }
    void apply(std::vector<Split>& splits) const override
    {
        std::vector<Split> out;
        for (const Split& s : splits)
            splitAt(s, charMatches(s.text, m_predicate), m_behavior, false, out);
        splits = std::move(out);
    }

private:
    std::function<bool(char32_t)> m_predicate;
    Behavior m_behavior;
};

class RegexSplit : public PreTokenizer
{
public:
    RegexSplit(const std::string& pattern, bool isRegex, Behavior behavior, bool invert, const std::string& file)
        : m_literal(isRegex ? std::string() : pattern)
        , m_behavior(behavior)
        , m_invert(invert)
    {
        if (isRegex) {
            try {
                m_regex = std::make_unique<unicode::Regex>(pattern);
            } catch (const std::invalid_argument& e) {
                malformed("Split pattern " + pattern + ": " + e.what(), file);
            }
        } else if (pattern.empty()) {
            malformed("Split with an empty pattern", file);
        }
    }
    void apply(std::vector<Split>& splits) const override
    {
        std::vector<Split> out;
        for (const Split& s : splits)
            splitAt(s, matches(s.text), m_behavior, m_invert, out);
        splits = std::move(out);
    }
    std::vector<Range> matches(const std::string& s) const
    {
        if (m_regex)
            return m_regex->findAll(s);
        std::vector<Range> found;
        for (std::size_t at = s.find(m_literal); at != std::string::npos; at = s.find(m_literal, at + m_literal.size()))
            found.push_back({ at, at + m_literal.size() });
        return found;
    }

private:
    std::string m_literal;
    std::unique_ptr<unicode::Regex> m_regex;
    Behavior m_behavior;
    bool m_invert;
};

class ByteLevel : public PreTokenizer
{
public:
    ByteLevel(const nlohmann::json& j, const std::string& file)
        : m_addPrefixSpace(boolField(j, "add_prefix_space", true, file))
    {
        if (boolField(j, "use_regex", true, file))
            m_split = std::make_unique<RegexSplit>(kGpt2Pattern, true, Behavior::Isolated, false, file);
    }
    void apply(std::vector<Split>& splits) const override
    {
        if (m_addPrefixSpace)
            for (Split& s : splits)
                if (s.text.empty() || s.text.front() != ' ')
                    s.text.insert(s.text.begin(), ' ');
        if (m_split)
            m_split->apply(splits);
        for (Split& s : splits) {
            std::string mapped;
            mapped.reserve(s.text.size() * 2);
            for (const char c : s.text)
                mapped += byteLevelChar(static_cast<unsigned char>(c));
            s.text = std::move(mapped);
        }
    }

private:
    bool m_addPrefixSpace;
    std::unique_ptr<RegexSplit> m_split;
};

class Metaspace : public PreTokenizer
{
public:
    Metaspace(const nlohmann::json& j, const std::string& file)
        : m_replacement(stringField(j, "replacement", "\xE2\x96\x81", file))
        , m_split(boolField(j, "split", true, file))
    {
        if (unicode::length(m_replacement) != 1)
            malformed("Metaspace replacement must be one character", file);
        std::string scheme = stringField(j, "prepend_scheme", "", file);
        if (scheme.empty())
            scheme = boolField(j, "add_prefix_space", true, file) ? "always" : "never";
        if (scheme != "always" && scheme != "first" && scheme != "never")
            unsupported("Metaspace prepend_scheme", scheme, file);
        m_scheme = scheme;
    }
    void apply(std::vector<Split>& splits) const override
    {
        std::vector<Split> out;
        for (Split& s : splits) {
            s.text = unicode::replaceAll(s.text, " ", m_replacement);
            const bool starts = s.text.compare(0, m_replacement.size(), m_replacement) == 0;
            if (!starts && (m_scheme == "always" || (m_scheme == "first" && s.atStart)))
                s.text.insert(0, m_replacement);
            if (!m_split) {
                out.push_back(std::move(s));
                continue;
            }
            std::vector<Range> matches;
            for (std::size_t at = s.text.find(m_replacement); at != std::string::npos;
                 at = s.text.find(m_replacement, at + m_replacement.size()))
                matches.push_back({ at, at + m_replacement.size() });
            splitAt(s, matches, Behavior::MergedWithNext, false, out);
        }
        splits = std::move(out);
    }

private:
    std::string m_replacement, m_scheme;
    bool m_split;
};

class Sequence : public PreTokenizer
{
public:
    void apply(std::vector<Split>& splits) const override
    {
        for (const auto& p : items)
            p->apply(splits);
    }
    std::vector<std::unique_ptr<PreTokenizer>> items;
};

} // namespace

const std::string& byteLevelChar(unsigned char byte)
{
    static const std::array<std::string, 256> table = [] {
        std::array<std::string, 256> t;
        char32_t extra = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            t[std::size_t(b)] = unicode::fromCodepoint(printable ? char32_t(b) : extra++);
        }
        return t;
    }();
    return table[byte];
}

int byteOfChar(char32_t cp)
{
    static const std::array<int, 512> table = [] {
        std::array<int, 512> t;
        t.fill(-1);
        for (int b = 0; b < 256; ++b) {
            std::size_t pos = 0;
            t[unicode::next(byteLevelChar(static_cast<unsigned char>(b)), pos)] = b;
        }
        return t;
    }();
    return cp < table.size() ? table[cp] : -1;
}

std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json& j, const std::string& file)
{
    if (j.is_null())
        return nullptr;
    const std::string type = componentType(j, "pre_tokenizer", file);
    if (type == "ByteLevel")
        return std::make_unique<ByteLevel>(j, file);
    if (type == "Metaspace")
        return std::make_unique<Metaspace>(j, file);
    if (type == "Split") {
        bool isRegex = false;
        const std::string pattern = patternField(j, isRegex, file);
        return std::make_unique<RegexSplit>(pattern, isRegex, behaviorOf(j, "behavior", Behavior::Isolated, file),
            boolField(j, "invert", false, file), file);
    }
    if (type == "BertPreTokenizer") {
        auto seq = std::make_unique<Sequence>();
        seq->items.push_back(std::make_unique<CharSplit>(unicode::isWhitespace, Behavior::Removed));
        seq->items.push_back(std::make_unique<CharSplit>(unicode::isPunctuation, Behavior::Isolated));
        return seq;
    }
    if (type == "WhitespaceSplit")
        return std::make_unique<CharSplit>(unicode::isWhitespace, Behavior::Removed);
    if (type == "Whitespace")
        return std::make_unique<RegexSplit>(R"(\w+|[^\w\s]+)", true, Behavior::Removed, true, file);
    if (type == "Punctuation")
        return std::make_unique<CharSplit>(unicode::isPunctuation, behaviorOf(j, "behavior", Behavior::Isolated, file));
    if (type == "Digits") {
        const bool individual = boolField(j, "individual_digits", false, file);
        return std::make_unique<CharSplit>(unicode::isNumeric, individual ? Behavior::Isolated : Behavior::Contiguous);
    }
    if (type == "Sequence") {
        if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
            malformed("pre_tokenizer Sequence has no \"pretokenizers\" list", file);
        auto seq = std::make_unique<Sequence>();
        for (const auto& item : j["pretokenizers"])
            if (auto p = makePreTokenizer(item, file))
                seq->items.push_back(std::move(p));
        return seq;
    }
    unsupported("pre_tokenizer", type, file);
}

} // namespace qs::hf
