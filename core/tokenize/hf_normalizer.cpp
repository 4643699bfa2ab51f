// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_normalizer.h"

#include "tokenize/hf_component.h"
#include "tokenize/unicode_text.h"

#include <stdexcept>
#include <vector>

namespace qs::hf {
namespace {

using unicode::next;

// BERT's: drop control characters, turn whitespace into spaces, pad CJK ideographs, strip
// accents (NFD then drop nonspacing marks) and lower-case.
class BertNormalizer : public Normalizer
{
public:
    BertNormalizer(const nlohmann::json& j, const std::string& file)
        : m_cleanText(boolField(j, "clean_text", true, file))
        , m_chinese(boolField(j, "handle_chinese_chars", true, file))
        , m_lowercase(boolField(j, "lowercase", true, file))
        , m_stripAccents(boolField(j, "strip_accents", m_lowercase, file))
    {
    }
    std::string normalize(const std::string& text) const override
    {
        std::string out;
        out.reserve(text.size());
        for (std::size_t pos = 0; pos < text.size();) {
            const char32_t c = next(text, pos);
            if (m_cleanText) {
                if (c == 0 || c == 0xFFFD || (c != '\t' && c != '\n' && c != '\r' && unicode::isOther(c)))
                    continue;
                if (unicode::isWhitespace(c)) {
                    out += ' ';
                    continue;
                }
            }
            if (m_chinese && unicode::isCjk(c)) {
                out += ' ';
                unicode::append(out, c);
                out += ' ';
                continue;
            }
            unicode::append(out, c);
        }
        if (m_stripAccents) {
            const std::string nfd = unicode::normalize(out, unicode::NormalForm::Nfd);
            out.clear();
            for (std::size_t pos = 0; pos < nfd.size();) {
                const char32_t c = next(nfd, pos);
                if (!unicode::isMarkNonspacing(c))
                    unicode::append(out, c);
            }
        }
        return m_lowercase ? unicode::toLower(out) : out;
    }

private:
    bool m_cleanText, m_chinese, m_lowercase, m_stripAccents;
};

class Lowercase : public Normalizer
{
public:
    std::string normalize(const std::string& text) const override { return unicode::toLower(text); }
};

class NormalForm : public Normalizer
{
public:
    explicit NormalForm(unicode::NormalForm form)
        : m_form(form)
    {
    }
    std::string normalize(const std::string& text) const override { return unicode::normalize(text, m_form); }

private:
    unicode::NormalForm m_form;
};

class StripAccents : public Normalizer
{
public:
    std::string normalize(const std::string& text) const override
    {
        std::string out;
        for (std::size_t pos = 0; pos < text.size();) {
            const char32_t c = next(text, pos);
            if (!unicode::isMarkNonspacing(c))
                unicode::append(out, c);
        }
        return out;
    }
};

class Prepend : public Normalizer
{
public:
    explicit Prepend(std::string prefix)
        : m_prefix(std::move(prefix))
    {
    }
    std::string normalize(const std::string& text) const override { return text.empty() ? text : m_prefix + text; }

private:
    std::string m_prefix;
};

class Replace : public Normalizer
{
public:
    Replace(const nlohmann::json& j, const std::string& file)
        : m_content(stringField(j, "content", "", file))
    {
        bool isRegex = false;
        m_pattern = patternField(j, isRegex, file);
        if (isRegex) {
            try {
                m_regex = std::make_unique<unicode::Regex>(m_pattern);
            } catch (const std::invalid_argument& e) {
                malformed("Replace pattern " + m_pattern + ": " + e.what(), file);
            }
        } else if (m_pattern.empty()) {
            malformed("Replace with an empty pattern", file);
        }
    }
    std::string normalize(const std::string& text) const override
    {
        if (!m_regex)
            return unicode::replaceAll(text, m_pattern, m_content);
        std::string out;
        std::size_t at = 0;
        for (const auto& [b, e] : m_regex->findAll(text)) {
            out.append(text, at, b - at);
            out += m_content;
            at = e;
        }
        out.append(text, at, std::string::npos);
        return out;
    }

private:
    std::string m_pattern, m_content;
    std::unique_ptr<unicode::Regex> m_regex;
};

class Strip : public Normalizer
{
public:
    Strip(bool left, bool right)
        : m_left(left)
        , m_right(right)
    {
    }
    std::string normalize(const std::string& text) const override
    {
        std::size_t begin = 0, end = text.size();
        if (m_left) {
            for (std::size_t pos = 0; pos < text.size();) {
                const std::size_t at = pos;
                if (!unicode::isWhitespace(next(text, pos))) {
                    begin = at;
                    break;
                }
                begin = pos;
            }
        }
        if (m_right) {
            std::size_t lastEnd = begin;
            for (std::size_t pos = begin; pos < text.size();) {
                if (!unicode::isWhitespace(next(text, pos)))
                    lastEnd = pos;
            }
            end = lastEnd;
        }
        return text.substr(begin, end - begin);
    }

private:
    bool m_left, m_right;
};

class Sequence : public Normalizer
{
public:
    std::string normalize(const std::string& text) const override
    {
        std::string s = text;
        for (const auto& n : items)
            s = n->normalize(s);
        return s;
    }
    std::vector<std::unique_ptr<Normalizer>> items;
};

} // namespace

std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json& j, const std::string& file)
{
    if (j.is_null())
        return nullptr;
    const std::string type = componentType(j, "normalizer", file);
    if (type == "BertNormalizer")
        return std::make_unique<BertNormalizer>(j, file);
    if (type == "Lowercase")
        return std::make_unique<Lowercase>();
    if (type == "NFC")
        return std::make_unique<NormalForm>(unicode::NormalForm::Nfc);
    if (type == "NFD")
        return std::make_unique<NormalForm>(unicode::NormalForm::Nfd);
    if (type == "NFKC")
        return std::make_unique<NormalForm>(unicode::NormalForm::Nfkc);
    if (type == "NFKD")
        return std::make_unique<NormalForm>(unicode::NormalForm::Nfkd);
    if (type == "StripAccents")
        return std::make_unique<StripAccents>();
    if (type == "Prepend")
        return std::make_unique<Prepend>(stringField(j, "prepend", "", file));
    if (type == "Replace")
        return std::make_unique<Replace>(j, file);
    if (type == "Strip")
        return std::make_unique<Strip>(boolField(j, "strip_left", true, file), boolField(j, "strip_right", true, file));
    if (type == "Sequence") {
        if (!j.contains("normalizers") || !j["normalizers"].is_array())
            malformed("normalizer Sequence has no \"normalizers\" list", file);
        auto seq = std::make_unique<Sequence>();
        for (const auto& item : j["normalizers"])
            if (auto n = makeNormalizer(item, file))
                seq->items.push_back(std::move(n));
        return seq;
    }
    unsupported("normalizer", type, file);
}

} // namespace qs::hf
