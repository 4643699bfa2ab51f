// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/char_tokenizer.h"

#include "error.h"
#include "io/pickle/unpickler.h"
#include "tokenize/unicode_text.h"

#include <cstdio>
#include <fstream>
#include <iterator>

namespace qs {
namespace {

std::string keysOf(const PickleObject* dict)
{
    std::string keys;
    for (const auto& [k, v] : dict->entries) {
        (void)v;
        keys += (keys.empty() ? "" : ", ") + (k->isString() ? k->text : describePickleObject(k));
    }
    return keys.empty() ? "none" : keys;
}

} // namespace

std::unique_ptr<CharTokenizer> CharTokenizer::read(const std::filesystem::path& file)
{
    const std::string name = file.string();
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw IoError("cannot read the tokenizer", ErrorContext { name, {}, {} });
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    PickleDocument doc;
    unpickle(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), doc, name);
    const PickleObject* root = doc.root();
    if (!root || root->kind != PickleKind::Dict)
        throw FormatError("meta.pkl should hold a dict, found " + describePickleObject(root), ErrorContext { name, {}, {} });
    const PickleObject* stoi = root->get("stoi");
    const PickleObject* itos = root->get("itos");
    if (!stoi && !itos)
        throw UsageError("only character vocabularies (\"stoi\"/\"itos\") are supported in meta.pkl; this one has keys: "
                + keysOf(root) + " (tiktoken or SentencePiece meta files need their own tokenizer file)",
            ErrorContext { name, {}, {} });
    std::vector<std::string> table;
    // The table is sized by the largest id: bound it by the number of entries, so that a
    // malformed file cannot make it huge.
    const PickleObject* used = stoi ? stoi : itos;
    const auto maxId = std::int64_t(4) * std::int64_t(used->entries.size()) + 1024;
    const auto put = [&](std::int64_t id, const std::string& s) {
        if (id < 0 || id > maxId)
            throw FormatError("character id " + std::to_string(id) + " is out of range (negative, or beyond 4 x "
                    + std::to_string(used->entries.size()) + " entries + 1024)",
                ErrorContext { name, {}, {} });
        if (table.size() <= std::size_t(id))
            table.resize(std::size_t(id) + 1);
        table[std::size_t(id)] = s;
    };
    if (stoi) {
        if (stoi->kind != PickleKind::Dict)
            throw FormatError("\"stoi\" is " + describePickleObject(stoi) + ", not a dict", ErrorContext { name, {}, {} });
        for (const auto& [k, v] : stoi->entries) {
            if (!k->isString() || v->kind != PickleKind::Int)
                throw FormatError("\"stoi\" maps " + describePickleObject(k) + " to " + describePickleObject(v)
                        + "; expected str -> int",
                    ErrorContext { name, {}, {} });
            put(v->integer, k->text);
        }
    } else {
        if (itos->kind != PickleKind::Dict)
            throw FormatError("\"itos\" is " + describePickleObject(itos) + ", not a dict", ErrorContext { name, {}, {} });
        for (const auto& [k, v] : itos->entries) {
            if (k->kind != PickleKind::Int || !v->isString())
                throw FormatError("\"itos\" maps " + describePickleObject(k) + " to " + describePickleObject(v)
                        + "; expected int -> str",
                    ErrorContext { name, {}, {} });
            put(k->integer, v->text);
        }
    }
    return std::make_unique<CharTokenizer>(std::move(table), name);
}

CharTokenizer::CharTokenizer(std::vector<std::string> itos, std::string fileName)
    : m_itos(std::move(itos))
    , m_fileName(std::move(fileName))
{
    for (std::size_t i = 0; i < m_itos.size(); ++i) {
        if (m_itos[i].empty())
            continue;
        if (unicode::length(m_itos[i]) != 1)
            throw FormatError("vocabulary entry " + std::to_string(i) + " is not one character: \"" + m_itos[i] + "\"",
                ErrorContext { m_fileName, {}, {} });
        m_stoi.emplace(m_itos[i], static_cast<std::int64_t>(i));
    }
}

std::vector<std::int64_t> CharTokenizer::encode(std::string_view text, bool) const
{
    checkEncodeSize(text, m_fileName);
    std::vector<std::int64_t> ids;
    ids.reserve(text.size());
    std::size_t index = 0;
    for (std::size_t pos = 0; pos < text.size(); ++index) {
        const std::size_t begin = pos;
        unicode::next(text, pos);
        const std::string ch(text.substr(begin, pos - begin));
        const auto it = m_stoi.find(ch);
        if (it == m_stoi.end()) {
            std::size_t first = 0;
            char code[16];
            std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(unicode::next(ch, first)));
            throw UsageError("character " + std::to_string(index) + " \"" + ch + "\" (" + code
                    + ") is not in the character vocabulary",
                ErrorContext { m_fileName, {}, {} });
        }
        ids.push_back(it->second);
    }
    return ids;
}

std::string CharTokenizer::decode(const std::vector<std::int64_t>& ids) const
{
    std::string text;
    for (const std::int64_t id : ids) {
        if (id < 0 || id >= vocabSize())
            throw UsageError("token id " + std::to_string(id) + " is outside the vocabulary of "
                    + std::to_string(vocabSize()) + " characters",
                ErrorContext { m_fileName, {}, {} });
        text += m_itos[std::size_t(id)];
    }
    return text;
}

std::optional<std::int64_t> CharTokenizer::tokenId(std::string_view token) const
{
    const auto it = m_stoi.find(std::string(token));
    return it == m_stoi.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
}

} // namespace qs
