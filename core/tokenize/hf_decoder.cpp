// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_decoder.h"

#include "tokenize/hf_component.h"
#include "tokenize/hf_pre_tokenizer.h"
#include "tokenize/unicode_text.h"

namespace qs::hf {
namespace {

// Bytes as a string with one U+FFFD per maximal invalid subsequence, like Rust's
// String::from_utf8_lossy (unicode::next reads such a subsequence as one U+FFFD).
bool isValidUtf8(const std::string& s)
{
    for (std::size_t pos = 0; pos < s.size();) {
        const std::size_t begin = pos;
        const char32_t c = unicode::next(s, pos);
        if (c == 0xFFFD && s.compare(begin, 3, "\xEF\xBF\xBD") != 0)
            return false;
    }
    return true;
}

std::string lossyUtf8(const std::string& bytes)
{
    if (isValidUtf8(bytes))
        return bytes;
    std::string out;
    for (std::size_t pos = 0; pos < bytes.size();)
        unicode::append(out, unicode::next(bytes, pos));
    return out;
}

class ByteLevel : public Decoder
{
public:
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        std::string bytes;
        for (const std::string& t : tokens) {
            for (std::size_t pos = 0; pos < t.size();) {
                const std::size_t begin = pos;
                const int b = byteOfChar(unicode::next(t, pos));
                if (b >= 0)
                    bytes += static_cast<char>(b);
                else
                    bytes.append(t, begin, pos - begin);
            }
        }
        tokens = { lossyUtf8(bytes) };
    }
};

class WordPiece : public Decoder
{
public:
    WordPiece(std::string prefix, bool cleanup)
        : m_prefix(std::move(prefix))
        , m_cleanup(cleanup)
    {
    }
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            if (i > 0) {
                if (!m_prefix.empty() && t.compare(0, m_prefix.size(), m_prefix) == 0)
                    t.erase(0, m_prefix.size());
                else
                    t.insert(0, " ");
            }
            if (m_cleanup)
                t = cleanup(t);
        }
    }
    static std::string cleanup(std::string s)
    {
        static const std::pair<const char*, const char*> kRules[] = { { " .", "." }, { " ?", "?" }, { " !", "!" },
            { " ,", "," }, { " ' ", "'" }, { " n't", "n't" }, { " 'm", "'m" }, { " do not", " don't" },
            { " 's", "'s" }, { " 've", "'ve" }, { " 're", "'re" } };
        for (const auto& [from, to] : kRules)
            s = unicode::replaceAll(s, from, to);
        return s;
    }

private:
    std::string m_prefix;
    bool m_cleanup;
};

class Metaspace : public Decoder
{
public:
    Metaspace(std::string replacement, bool prepend)
        : m_replacement(std::move(replacement))
        , m_prepend(prepend)
    {
    }
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            tokens[i] = unicode::replaceAll(tokens[i], m_replacement, " ");
            if (i == 0 && m_prepend && !tokens[i].empty() && tokens[i].front() == ' ')
                tokens[i].erase(0, 1);
        }
    }

private:
    std::string m_replacement;
    bool m_prepend;
};

int bytePiece(const std::string& t)
{
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>')
        return -1;
    // u8::from_str_radix(.., 16) as the library parses it: either case, and a leading '+'
    int v = 0;
    for (int i = t[3] == '+' ? 4 : 3; i < 5; ++i) {
        const char c = t[std::size_t(i)];
        const int d = (c >= '0' && c <= '9') ? c - '0'
            : (c >= 'A' && c <= 'F')         ? c - 'A' + 10
            : (c >= 'a' && c <= 'f')         ? c - 'a' + 10
                                             : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

class ByteFallback : public Decoder
{
public:
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        std::vector<std::string> out;
        std::string bytes;
        std::size_t byteCount = 0;
        const auto flush = [&] {
            if (byteCount == 0)
                return;
            if (isValidUtf8(bytes))
                out.push_back(bytes);
            else
                for (std::size_t i = 0; i < byteCount; ++i)
                    out.push_back("\xEF\xBF\xBD");
            bytes.clear();
            byteCount = 0;
        };
        for (std::string& t : tokens) {
            const int b = bytePiece(t);
            if (b >= 0) {
                bytes += static_cast<char>(b);
                ++byteCount;
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        tokens = std::move(out);
    }
};

class Fuse : public Decoder
{
public:
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        std::string all;
        for (const auto& t : tokens)
            all += t;
        tokens = { all };
    }
};

class Strip : public Decoder
{
public:
    Strip(std::string content, std::size_t start, std::size_t stop)
        : m_content(std::move(content))
        , m_start(start)
        , m_stop(stop)
    {
    }
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        const std::size_t n = m_content.size();
        for (std::string& t : tokens) {
            for (std::size_t i = 0; i < m_start && t.compare(0, n, m_content) == 0; ++i)
                t.erase(0, n);
            for (std::size_t i = 0; i < m_stop && t.size() >= n && t.compare(t.size() - n, n, m_content) == 0; ++i)
                t.erase(t.size() - n);
        }
    }

private:
    std::string m_content;
    std::size_t m_start, m_stop;
};

class Replace : public Decoder
{
public:
    Replace(std::string from, std::string to)
        : m_from(std::move(from))
        , m_to(std::move(to))
    {
    }
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        for (std::string& t : tokens)
            t = unicode::replaceAll(t, m_from, m_to);
    }

private:
    std::string m_from, m_to;
};

class Sequence : public Decoder
{
public:
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        for (const auto& d : items)
            d->decodeChain(tokens);
    }
    std::vector<std::unique_ptr<Decoder>> items;
};

} // namespace

std::unique_ptr<Decoder> makeDecoder(const nlohmann::json& j, const std::string& file)
{
    if (j.is_null())
        return nullptr;
    const std::string type = componentType(j, "decoder", file);
    if (type == "ByteLevel")
        return std::make_unique<ByteLevel>();
    if (type == "WordPiece")
        return std::make_unique<WordPiece>(stringField(j, "prefix", "##", file), boolField(j, "cleanup", true, file));
    if (type == "Metaspace") {
        std::string scheme = stringField(j, "prepend_scheme", "", file);
        if (scheme.empty())
            scheme = boolField(j, "add_prefix_space", true, file) ? "always" : "never";
        return std::make_unique<Metaspace>(stringField(j, "replacement", "\xE2\x96\x81", file), scheme != "never");
    }
    if (type == "ByteFallback")
        return std::make_unique<ByteFallback>();
    if (type == "Fuse")
        return std::make_unique<Fuse>();
    if (type == "Strip") {
        const std::int64_t start = intField(j, "start", 0, file), stop = intField(j, "stop", 0, file);
        if (start < 0 || stop < 0)
            malformed("Strip decoder with a negative count", file);
        return std::make_unique<Strip>(stringField(j, "content", " ", file), std::size_t(start), std::size_t(stop));
    }
    if (type == "Replace") {
        bool isRegex = false;
        const std::string pattern = patternField(j, isRegex, file);
        if (isRegex)
            unsupported("decoder Replace with a Regex pattern", "Regex", file);
        if (pattern.empty())
            malformed("Replace decoder with an empty pattern", file);
        return std::make_unique<Replace>(pattern, stringField(j, "content", "", file));
    }
    if (type == "Sequence") {
        if (!j.contains("decoders") || !j["decoders"].is_array())
            malformed("decoder Sequence has no \"decoders\" list", file);
        auto seq = std::make_unique<Sequence>();
        for (const auto& item : j["decoders"])
            if (auto d = makeDecoder(item, file))
                seq->items.push_back(std::move(d));
        return seq;
    }
    unsupported("decoder", type, file);
}

} // namespace qs::hf
