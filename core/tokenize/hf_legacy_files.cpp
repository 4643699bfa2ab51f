// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_legacy_files.h"

#include "error.h"
#include "text.h"
#include "tokenize/hf_component.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>

namespace qs::hf {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

std::string readText(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw IoError("cannot read the tokenizer file", ErrorContext { file.string(), {}, {} });
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

json parseJson(const fs::path& file)
{
    try {
        return json::parse(readText(file));
    } catch (const json::exception& e) {
        throw FormatError(std::string("not JSON: ") + e.what(), ErrorContext { file.string(), {}, {} });
    }
}

// A JSON object file beside the vocabulary, or an empty object when it is absent.
json optionalObject(const fs::path& file)
{
    if (!fs::exists(file))
        return json::object();
    json j = parseJson(file);
    if (!j.is_object())
        malformed("expected a JSON object", file.string());
    return j;
}

// The lines of a text file without their "\n" / "\r\n"; a last empty line (after the final
// newline) is not a line.
std::vector<std::string> readLines(const fs::path& file)
{
    const std::string text = readText(file);
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        std::size_t stop = end;
        if (stop > start && text[stop - 1] == '\r')
            --stop;
        lines.push_back(text.substr(start, stop - start));
        start = end + 1;
    }
    return lines;
}

// The folder's settings: tokenizer_config.json, config.json and added_tokens.json.
struct FolderFiles
{
    fs::path tokenizerConfigFile, configFile, addedTokensFile;
    json tokenizerConfig, config, addedTokens;

    explicit FolderFiles(const fs::path& folder)
        : tokenizerConfigFile(folder / "tokenizer_config.json")
        , configFile(folder / "config.json")
        , addedTokensFile(folder / "added_tokens.json")
        , tokenizerConfig(optionalObject(tokenizerConfigFile))
        , config(optionalObject(configFile))
        , addedTokens(optionalObject(addedTokensFile))
    { }

    // tokenizer_config.json's name for a special token ("unk_token": "[UNK]" or {"content": ..}).
    std::string special(const char* key, const std::string& fallback) const
    {
        if (!tokenizerConfig.contains(key))
            return fallback;
        const json& v = tokenizerConfig[key];
        if (v.is_string())
            return v.get<std::string>();
        if (v.is_object() && v.contains("content") && v["content"].is_string())
            return v["content"].get<std::string>();
        if (v.is_null())
            return fallback;
        malformed(
            std::string("\"") + key + "\" is neither a token nor {\"content\": token}", tokenizerConfigFile.string());
    }
    bool flag(const char* key, bool fallback) const
    {
        return boolField(tokenizerConfig, key, fallback, tokenizerConfigFile.string());
    }
};

json addedToken(std::int64_t id, const std::string& content, bool special, bool lstrip, bool normalized)
{
    return { { "id", id }, { "content", content }, { "single_word", false }, { "lstrip", lstrip }, { "rstrip", false },
        { "normalized", normalized }, { "special", special } };
}

// `added` (the specials the vocabulary has) plus added_tokens.json's tokens (special when
// tokenizer_config lists them in additional_special_tokens, else normalized, as transformers
// loads them) and tokenizer_config.json's added_tokens_decoder, whose flags replace those of a
// token with the same id or content.
json allAddedTokens(const FolderFiles& f, json added)
{
    const auto find = [&](const std::string& content, std::int64_t id) {
        for (auto& a : added)
            if (a["content"] == content || a["id"] == id)
                return &a;
        return static_cast<json*>(nullptr);
    };
    std::vector<std::string> extraSpecial;
    if (f.tokenizerConfig.contains("additional_special_tokens")
        && f.tokenizerConfig["additional_special_tokens"].is_array())
        for (const auto& t : f.tokenizerConfig["additional_special_tokens"])
            if (t.is_string())
                extraSpecial.push_back(t.get<std::string>());
    for (const auto& [content, id] : f.addedTokens.items()) {
        if (!id.is_number_integer() || id.get<std::int64_t>() < 0)
            malformed("added token \"" + content + "\" has no valid id", f.addedTokensFile.string());
        if (find(content, id.get<std::int64_t>()))
            continue;
        const bool special = std::find(extraSpecial.begin(), extraSpecial.end(), content) != extraSpecial.end();
        added.push_back(addedToken(id.get<std::int64_t>(), content, special, false, !special));
    }
    const json decoder = f.tokenizerConfig.value("added_tokens_decoder", json::object());
    const std::string configName = f.tokenizerConfigFile.string();
    if (!decoder.is_object())
        malformed("\"added_tokens_decoder\" is not an object", configName);
    for (const auto& [key, t] : decoder.items()) {
        if (key.empty() || key.size() > 12 || key.find_first_not_of("0123456789") != std::string::npos || !t.is_object()
            || !t.contains("content") || !t["content"].is_string())
            malformed("added_tokens_decoder entry \"" + key + "\" is not id: {\"content\": ...}", configName);
        const std::int64_t id = std::stoll(key);
        const bool special = boolField(t, "special", false, configName);
        json a = addedToken(id, t["content"].get<std::string>(), special, boolField(t, "lstrip", false, configName),
            boolField(t, "normalized", !special, configName));
        a["rstrip"] = boolField(t, "rstrip", false, configName);
        a["single_word"] = boolField(t, "single_word", false, configName);
        if (json* old = find(a["content"].get<std::string>(), id))
            *old = a;
        else
            added.push_back(a);
    }
    return added;
}

std::optional<std::int64_t> vocabId(const json& vocab, const std::string& token)
{
    const auto it = vocab.find(token);
    if (it == vocab.end() || !it->is_number_integer())
        return std::nullopt;
    return it->get<std::int64_t>();
}

bool hasToken(const json& added, const std::string& content)
{
    return std::any_of(added.begin(), added.end(), [&](const json& a) { return a["content"] == content; });
}

bool isRoberta(const FolderFiles& f)
{
    const std::string type
        = f.config.value("model_type", json()).is_string() ? f.config["model_type"].get<std::string>() : "";
    if (type == "roberta" || type == "longformer" || type == "bart")
        return true;
    const json cls = f.tokenizerConfig.value("tokenizer_class", json());
    if (!cls.is_string())
        return false;
    const std::string name = cls.get<std::string>();
    for (const char* prefix : { "RobertaTokenizer", "BartTokenizer", "LongformerTokenizer" })
        if (name.rfind(prefix, 0) == 0)
            return true;
    return false;
}

json byteLevel(bool addPrefixSpace, bool trimOffsets)
{
    return { { "type", "ByteLevel" }, { "add_prefix_space", addPrefixSpace }, { "trim_offsets", trimOffsets },
        { "use_regex", true } };
}

// [token, id] for a post-processor, or FormatError when the vocabulary lacks the token.
json requiredPair(const json& vocab, const std::string& token, const fs::path& vocabFile, const char* model)
{
    const auto id = vocabId(vocab, token);
    if (!id)
        malformed(std::string("the vocabulary has no \"") + token + "\", which " + model + " puts around a sequence",
            vocabFile.string());
    return json::array({ token, *id });
}

} // namespace

json tokenizerJsonFromVocabJson(const fs::path& vocabJson)
{
    const std::string name = vocabJson.filename().string();
    const std::string prefix = endsWith(name, "vocab.json") ? name.substr(0, name.size() - 10) : std::string();
    const fs::path merges = vocabJson.parent_path() / (prefix + "merges.txt");
    if (!fs::exists(merges))
        throw FormatError("a vocab.json tokenizer needs the merges.txt beside it, which is missing",
            ErrorContext { merges.string(), {}, {} });
    const json vocab = parseJson(vocabJson);
    if (!vocab.is_object())
        malformed("vocab.json is not an object of token: id", vocabJson.string());
    json mergeList = json::array();
    const std::vector<std::string> lines = readLines(merges);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        if (line.empty() || (i == 0 && line.rfind("#version", 0) == 0))
            continue;
        const std::size_t space = line.find(' ');
        if (space == 0 || space == std::string::npos || space + 1 == line.size()
            || line.find(' ', space + 1) != std::string::npos)
            malformed("line " + std::to_string(i + 1) + " is not two tokens separated by one space", merges.string());
        mergeList.push_back({ line.substr(0, space), line.substr(space + 1) });
    }
    const FolderFiles f(vocabJson.parent_path());
    const bool roberta = isRoberta(f);
    json j;
    j["version"] = "1.0";
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = byteLevel(f.flag("add_prefix_space", false), true);
    j["decoder"] = byteLevel(true, true);
    j["model"] = { { "type", "BPE" }, { "dropout", nullptr }, { "unk_token", nullptr },
        { "continuing_subword_prefix", "" }, { "end_of_word_suffix", "" }, { "fuse_unk", false },
        { "byte_fallback", false }, { "ignore_merges", false }, { "vocab", vocab }, { "merges", mergeList } };
    json added = json::array();
    if (roberta) {
        const std::string mask = f.special("mask_token", "<mask>");
        for (const std::string& t : { f.special("bos_token", "<s>"), f.special("pad_token", "<pad>"),
                 f.special("eos_token", "</s>"), f.special("unk_token", "<unk>"), mask })
            if (const auto id = vocabId(vocab, t); id && !hasToken(added, t))
                added.push_back(addedToken(*id, t, true, t == mask, t != mask));
        j["post_processor"] = { { "type", "RobertaProcessing" },
            { "sep", requiredPair(vocab, f.special("sep_token", "</s>"), vocabJson, "RoBERTa") },
            { "cls", requiredPair(vocab, f.special("cls_token", "<s>"), vocabJson, "RoBERTa") },
            { "trim_offsets", true }, { "add_prefix_space", f.flag("add_prefix_space", false) } };
    } else {
        if (const auto id = vocabId(vocab, "<|endoftext|>"))
            added.push_back(addedToken(*id, "<|endoftext|>", true, false, false));
        j["post_processor"] = byteLevel(true, false);
    }
    j["added_tokens"] = allAddedTokens(f, std::move(added));
    return j;
}

json tokenizerJsonFromVocabTxt(const fs::path& vocabTxt)
{
    json vocab = json::object();
    const std::vector<std::string> lines = readLines(vocabTxt);
    for (std::size_t i = 0; i < lines.size(); ++i)
        vocab[lines[i]] = i; // a repeated token keeps its last line, as transformers' load_vocab does
    const FolderFiles f(vocabTxt.parent_path());
    const bool lowercase = f.flag("do_lower_case", true);
    json normalizer = { { "type", "BertNormalizer" }, { "clean_text", true },
        { "handle_chinese_chars", f.flag("tokenize_chinese_chars", true) }, { "strip_accents", nullptr },
        { "lowercase", lowercase } };
    if (f.tokenizerConfig.contains("strip_accents") && !f.tokenizerConfig["strip_accents"].is_null())
        normalizer["strip_accents"] = f.flag("strip_accents", lowercase);
    const std::string unk = f.special("unk_token", "[UNK]");
    json added = json::array();
    for (const std::string& t : { f.special("pad_token", "[PAD]"), unk, f.special("cls_token", "[CLS]"),
             f.special("sep_token", "[SEP]"), f.special("mask_token", "[MASK]") })
        if (const auto id = vocabId(vocab, t); id && !hasToken(added, t))
            added.push_back(addedToken(*id, t, true, false, false));
    json j;
    j["version"] = "1.0";
    j["normalizer"] = normalizer;
    j["pre_tokenizer"] = { { "type", "BertPreTokenizer" } };
    j["post_processor"] = { { "type", "BertProcessing" },
        { "sep", requiredPair(vocab, f.special("sep_token", "[SEP]"), vocabTxt, "BERT") },
        { "cls", requiredPair(vocab, f.special("cls_token", "[CLS]"), vocabTxt, "BERT") } };
    j["decoder"] = { { "type", "WordPiece" }, { "prefix", "##" }, { "cleanup", true } };
    j["model"] = { { "type", "WordPiece" }, { "unk_token", unk }, { "continuing_subword_prefix", "##" },
        { "max_input_chars_per_word", 100 }, { "vocab", vocab } };
    j["added_tokens"] = allAddedTokens(f, std::move(added));
    return j;
}

} // namespace qs::hf
