// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_tokenizer.h"

#include "error.h"
#include "tokenize/hf_component.h"
#include "tokenize/hf_decoder.h"
#include "tokenize/hf_model.h"
#include "tokenize/hf_normalizer.h"
#include "tokenize/hf_pre_tokenizer.h"

#include <fstream>
#include <iterator>

namespace qs {

using hf::malformed;

std::unique_ptr<HfTokenizer> HfTokenizer::read(const std::filesystem::path& file)
{
    const std::string name = file.string();
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw IoError("cannot read the tokenizer", ErrorContext { name, {}, {} });
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(bytes);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(std::string("not JSON: ") + e.what(), ErrorContext { name, {}, {} });
    }
    return std::make_unique<HfTokenizer>(j, name);
}

HfTokenizer::HfTokenizer(const nlohmann::json& j, const std::string& fileName)
    : m_fileName(fileName)
{
    if (!j.is_object() || !j.contains("model"))
        malformed("expected an object with a \"model\"", m_fileName);
    try {
        m_normalizer = hf::makeNormalizer(j.value("normalizer", nlohmann::json()), m_fileName);
        m_preTokenizer = hf::makePreTokenizer(j.value("pre_tokenizer", nlohmann::json()), m_fileName);
        m_model = hf::makeModel(j["model"], m_fileName);
        m_decoder = hf::makeDecoder(j.value("decoder", nlohmann::json()), m_fileName);
        readAddedTokens(j.value("added_tokens", nlohmann::json::array()));
        readPostProcessor(j.value("post_processor", nlohmann::json()));
    } catch (const nlohmann::json::exception& e) {
        malformed(e.what(), m_fileName);
    }
    // "truncation" and "padding" (set in many BERT / sentence-transformers files) are accepted
    // and ignored, both: encode() never cuts or pads, because the runtime windows the ids itself
    // and evaluation text must not be cut.
}

HfTokenizer::~HfTokenizer() = default;

void HfTokenizer::readAddedTokens(const nlohmann::json& list)
{
    if (!list.is_array())
        malformed("\"added_tokens\" is not a list", m_fileName);
    std::vector<hf::AddedToken> raw, normalized;
    for (const auto& t : list) {
        if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || t["id"].get<std::int64_t>() < 0
            || !t.contains("content") || !t["content"].is_string())
            malformed("an added token lacks \"id\" or \"content\"", m_fileName);
        hf::AddedToken a;
        a.id = t["id"].get<std::int64_t>();
        a.content = t["content"].get<std::string>();
        a.singleWord = hf::boolField(t, "single_word", false, m_fileName);
        a.lstrip = hf::boolField(t, "lstrip", false, m_fileName);
        a.rstrip = hf::boolField(t, "rstrip", false, m_fileName);
        a.special = hf::boolField(t, "special", false, m_fileName);
        a.normalized = hf::boolField(t, "normalized", !a.special, m_fileName);
        m_added.push_back(a);
        // As the tokenizers library does: the "normalized" flag alone decides the group (special
        // tokens are not forced raw), and a normalized token is matched in its normalized form
        // against the normalized text.
        if (a.normalized) {
            if (m_normalizer)
                a.content = m_normalizer->normalize(a.content);
            normalized.push_back(a);
        } else {
            raw.push_back(a);
        }
    }
    m_rawMatcher = std::make_unique<hf::AddedTokenMatcher>(raw);
    m_normalizedMatcher = std::make_unique<hf::AddedTokenMatcher>(normalized);
}

void HfTokenizer::readPostProcessor(const nlohmann::json& j)
{
    if (j.is_null())
        return;
    const std::string type = hf::componentType(j, "post_processor", m_fileName);
    const auto pairId = [&](const char* key) {
        const auto& p = j.contains(key) ? j[key] : nlohmann::json();
        if (!p.is_array() || p.size() != 2 || !p[1].is_number_integer())
            malformed(type + " has no [token, id] \"" + key + "\"", m_fileName);
        return p[1].get<std::int64_t>();
    };
    if (type == "BertProcessing" || type == "RobertaProcessing") {
        m_prefix.push_back(pairId("cls"));
        m_suffix.push_back(pairId("sep"));
    } else if (type == "TemplateProcessing") {
        const auto& single = j.contains("single") ? j["single"] : nlohmann::json();
        const auto& specials = j.contains("special_tokens") ? j["special_tokens"] : nlohmann::json::object();
        if (!single.is_array())
            malformed("TemplateProcessing has no \"single\" template", m_fileName);
        bool seenSequence = false;
        for (const auto& piece : single) {
            if (piece.contains("Sequence")) {
                seenSequence = true;
            } else if (piece.contains("SpecialToken") && piece["SpecialToken"].contains("id")) {
                const std::string name = piece["SpecialToken"]["id"].get<std::string>();
                if (!specials.contains(name) || !specials[name].contains("ids") || !specials[name]["ids"].is_array())
                    malformed("TemplateProcessing special token \"" + name + "\" has no ids", m_fileName);
                for (const auto& id : specials[name]["ids"])
                    (seenSequence ? m_suffix : m_prefix).push_back(id.get<std::int64_t>());
            } else {
                malformed("TemplateProcessing piece is neither Sequence nor SpecialToken", m_fileName);
            }
        }
    } else if (type == "Sequence") {
        if (!j.contains("processors") || !j["processors"].is_array())
            malformed("post_processor Sequence has no \"processors\" list", m_fileName);
        for (const auto& p : j["processors"])
            readPostProcessor(p);
    } else if (type != "ByteLevel") {
        hf::unsupported("post_processor", type, m_fileName);
    }
}

std::string HfTokenizer::kind() const
{
    return m_model->kind();
}

std::int64_t HfTokenizer::vocabSize() const
{
    std::int64_t n = m_model->size();
    for (const auto& a : m_added)
        n = std::max(n, a.id + 1);
    return n;
}

void HfTokenizer::encodeText(const std::string& text, bool atStart, std::vector<std::int64_t>& ids) const
{
    const std::string normalized = m_normalizer ? m_normalizer->normalize(text) : text;
    std::vector<hf::Split> splits;
    for (hf::TextPiece& p : m_normalizedMatcher->split(normalized)) {
        if (p.id >= 0) {
            // flush what came before, keeping the order
            if (m_preTokenizer)
                m_preTokenizer->apply(splits);
            for (const hf::Split& s : splits)
                m_model->tokenize(s.text, ids);
            splits.clear();
            ids.push_back(p.id);
        } else {
            splits.push_back({ std::move(p.text), atStart && p.offset == 0 });
        }
    }
    if (m_preTokenizer)
        m_preTokenizer->apply(splits);
    for (const hf::Split& s : splits)
        m_model->tokenize(s.text, ids);
}

std::vector<std::int64_t> HfTokenizer::encode(std::string_view text, bool addSpecial) const
{
    checkEncodeSize(text, m_fileName);
    std::vector<std::int64_t> ids;
    if (addSpecial)
        ids = m_prefix;
    for (const hf::TextPiece& p : m_rawMatcher->split(std::string(text))) {
        if (p.id >= 0)
            ids.push_back(p.id);
        else
            encodeText(p.text, p.offset == 0, ids);
    }
    if (addSpecial)
        ids.insert(ids.end(), m_suffix.begin(), m_suffix.end());
    return ids;
}

const std::string* HfTokenizer::tokenOf(std::int64_t id) const
{
    for (const auto& a : m_added)
        if (a.id == id)
            return &a.content;
    return m_model->token(id);
}

std::string HfTokenizer::decode(const std::vector<std::int64_t>& ids) const
{
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const std::int64_t id : ids) {
        bool special = false;
        for (const auto& a : m_added)
            special = special || (a.id == id && a.special);
        if (special)
            continue;
        const std::string* t = tokenOf(id);
        if (!t)
            throw UsageError("token id " + std::to_string(id) + " is not in the vocabulary",
                ErrorContext { m_fileName, {}, {} });
        tokens.push_back(*t);
    }
    if (m_decoder) {
        m_decoder->decodeChain(tokens);
        std::string text;
        for (const auto& t : tokens)
            text += t;
        return text;
    }
    std::string text;
    for (std::size_t i = 0; i < tokens.size(); ++i)
        text += (i ? " " : "") + tokens[i];
    return text;
}

std::optional<std::int64_t> HfTokenizer::tokenId(std::string_view token) const
{
    for (const auto& a : m_added)
        if (a.content == token)
            return a.id;
    return m_model->tokenId(token);
}

std::optional<std::int64_t> HfTokenizer::firstKnown(std::initializer_list<const char*> tokens) const
{
    for (const char* t : tokens)
        if (const auto id = tokenId(t))
            return id;
    return std::nullopt;
}

std::optional<std::int64_t> HfTokenizer::maskToken() const
{
    return firstKnown({ "[MASK]", "<mask>" });
}

std::optional<std::int64_t> HfTokenizer::bosToken() const
{
    if (m_prefix.size() == 1)
        return m_prefix.front();
    return firstKnown({ "<s>", "<|begin_of_text|>", "<|endoftext|>" });
}

std::optional<std::int64_t> HfTokenizer::eosToken() const
{
    if (m_suffix.size() == 1)
        return m_suffix.back();
    return firstKnown({ "</s>", "<|end_of_text|>", "<|endoftext|>" });
}

} // namespace qs
