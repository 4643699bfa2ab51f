// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Tokenizer fixtures shared by tst_tokenizers and tst_tokenizers_legacy: the shared model files,
// Python-written meta.pkl bytes, small byte-level / byte-fallback / WordPiece tokenizer.json
// documents, awkward texts, and the older vocab.json + merges.txt / vocab.txt files.
#include "test_support.h"
#include "tokenize/tokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace tokfix {

using namespace qs;
namespace fs = std::filesystem;
using Ids = std::vector<std::int64_t>;

const fs::path kModels = QS_SHARED_MODELS_DIR;
const fs::path kTok512 = kModels / "stories260K" / "tok512.bin";
const fs::path kStories = kModels / "stories260K" / "stories260K.bin";
const fs::path kText = kModels / "stories260K" / "tinystories_valid_sample10.txt";

// pickle.dumps({'vocab_size': 9, 'itos': {...}, 'stoi': {...}}) of the characters of "hello world\n",
// as Python 3.11 writes it (protocol 4: FRAME, MEMOIZE, SHORT_BINUNICODE, SETITEMS, memo GETs).
const char kMetaPkl[] = "\x80\x04\x95\x84\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x0a\x76\x6f\x63\x61\x62\x5f\x73"
                        "\x69\x7a\x65\x94\x4b\x09\x8c\x04\x69\x74\x6f\x73\x94\x7d\x94\x28\x4b\x00\x8c\x01\x0a\x94\x4b"
                        "\x01\x8c\x01\x20\x94\x4b\x02\x8c\x01\x64\x94\x4b\x03\x8c\x01\x65\x94\x4b\x04\x8c\x01\x68\x94"
                        "\x4b\x05\x8c\x01\x6c\x94\x4b\x06\x8c\x01\x6f\x94\x4b\x07\x8c\x01\x72\x94\x4b\x08\x8c\x01\x77"
                        "\x94\x75\x8c\x04\x73\x74\x6f\x69\x94\x7d\x94\x28\x68\x04\x4b\x00\x68\x05\x4b\x01\x68\x06\x4b"
                        "\x02\x68\x07\x4b\x03\x68\x08\x4b\x04\x68\x09\x4b\x05\x68\x0a\x4b\x06\x68\x0b\x4b\x07\x68\x0c"
                        "\x4b\x08\x75\x75\x2e";
// pickle.dumps({'vocab_size': 50257}): the meta of a tiktoken-encoded dataset.
const char kTiktokenMeta[] = "\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x8c\x0a\x76\x6f\x63\x61\x62\x5f\x73"
                             "\x69\x7a\x65\x94\x4d\x51\xc4\x73\x2e";

// GPT-2's byte-to-unicode alphabet, for building byte-level vocabularies.
inline std::vector<std::string> byteAlphabet()
{
    std::vector<std::string> out(256);
    char32_t extra = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        const char32_t cp = printable ? char32_t(b) : extra++;
        std::string s;
        if (cp < 0x80) {
            s += char(cp);
        } else {
            s += char(0xC0 | (cp >> 6));
            s += char(0x80 | (cp & 0x3F));
        }
        out[std::size_t(b)] = s;
    }
    return out;
}

// A GPT-2-style tokenizer: 256 byte tokens, then "th", "the", "Ġt", "Ġthe", then <|endoftext|>.
inline nlohmann::json byteLevelJson()
{
    nlohmann::json vocab = nlohmann::json::object();
    const auto alphabet = byteAlphabet();
    for (int b = 0; b < 256; ++b)
        vocab[alphabet[std::size_t(b)]] = b;
    vocab["th"] = 256;
    vocab["the"] = 257;
    vocab["Ġt"] = 258;
    vocab["Ġthe"] = 259;
    vocab["<|endoftext|>"] = 260;
    nlohmann::json j;
    j["version"] = "1.0";
    j["added_tokens"] = { { { "id", 260 }, { "content", "<|endoftext|>" }, { "single_word", false },
        { "lstrip", false }, { "rstrip", false }, { "normalized", false }, { "special", true } } };
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = { { "type", "ByteLevel" }, { "add_prefix_space", false }, { "trim_offsets", true },
        { "use_regex", true } };
    j["post_processor"] = { { "type", "ByteLevel" }, { "add_prefix_space", true }, { "trim_offsets", false },
        { "use_regex", true } };
    j["decoder"] = { { "type", "ByteLevel" }, { "add_prefix_space", true }, { "trim_offsets", true },
        { "use_regex", true } };
    j["model"] = { { "type", "BPE" }, { "dropout", nullptr }, { "unk_token", nullptr },
        { "continuing_subword_prefix", "" }, { "end_of_word_suffix", "" }, { "fuse_unk", false },
        { "byte_fallback", false }, { "ignore_merges", false }, { "vocab", vocab },
        { "merges", nlohmann::json::array({ "t h", nlohmann::json::array({ "th", "e" }), "Ġ t", "Ġ the" }) } };
    return j;
}

// A Llama-2-style tokenizer.json: Prepend("▁") + Replace(" ", "▁"), BPE with byte_fallback,
// BOS by TemplateProcessing, decoder Replace + ByteFallback + Fuse + Strip.
inline nlohmann::json byteFallbackJson()
{
    nlohmann::json vocab = { { "<unk>", 0 }, { "<s>", 1 }, { "</s>", 2 } };
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        vocab[name] = 3 + b;
    }
    vocab["▁"] = 259;
    vocab["a"] = 260;
    vocab["b"] = 261;
    vocab["▁a"] = 262;
    vocab["ab"] = 263;
    vocab["é"] = 264;
    nlohmann::json j;
    j["added_tokens"] = nlohmann::json::array();
    for (int i = 0; i < 3; ++i)
        j["added_tokens"].push_back({ { "id", i }, { "content", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>" },
            { "single_word", false }, { "lstrip", false }, { "rstrip", false }, { "normalized", false },
            { "special", true } });
    j["normalizer"] = { { "type", "Sequence" },
        { "normalizers",
            { { { "type", "Prepend" }, { "prepend", "▁" } },
                { { "type", "Replace" }, { "pattern", { { "String", " " } } }, { "content", "▁" } } } } };
    j["pre_tokenizer"] = nullptr;
    j["post_processor"] = { { "type", "TemplateProcessing" },
        { "single",
            { { { "SpecialToken", { { "id", "<s>" }, { "type_id", 0 } } } },
                { { "Sequence", { { "id", "A" }, { "type_id", 0 } } } } } },
        { "pair", nlohmann::json::array() },
        { "special_tokens", { { "<s>", { { "id", "<s>" }, { "ids", { 1 } }, { "tokens", { "<s>" } } } } } } };
    j["decoder"] = { { "type", "Sequence" },
        { "decoders",
            { { { "type", "Replace" }, { "pattern", { { "String", "▁" } } }, { "content", " " } },
                { { "type", "ByteFallback" } }, { { "type", "Fuse" } },
                { { "type", "Strip" }, { "content", " " }, { "start", 1 }, { "stop", 0 } } } } };
    j["model"] = { { "type", "BPE" }, { "unk_token", "<unk>" }, { "fuse_unk", true }, { "byte_fallback", true },
        { "vocab", vocab }, { "merges", { "▁ a", "a b" } } };
    return j;
}

// BERT: BertNormalizer (lower-case, strip accents), BertPreTokenizer, WordPiece, BertProcessing.
inline nlohmann::json wordPieceJson()
{
    const std::vector<std::string> tokens = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s",
        ",", "un", "##know", "##n", "cafe" };
    nlohmann::json vocab = nlohmann::json::object();
    for (std::size_t i = 0; i < tokens.size(); ++i)
        vocab[tokens[i]] = i;
    nlohmann::json j;
    j["added_tokens"] = nlohmann::json::array();
    for (int i = 0; i < 5; ++i)
        j["added_tokens"].push_back({ { "id", i }, { "content", tokens[std::size_t(i)] }, { "single_word", false },
            { "lstrip", false }, { "rstrip", false }, { "normalized", false }, { "special", true } });
    j["normalizer"] = { { "type", "BertNormalizer" }, { "clean_text", true }, { "handle_chinese_chars", true },
        { "strip_accents", nullptr }, { "lowercase", true } };
    j["pre_tokenizer"] = { { "type", "BertPreTokenizer" } };
    j["post_processor"] = { { "type", "BertProcessing" }, { "sep", { "[SEP]", 3 } }, { "cls", { "[CLS]", 2 } } };
    j["decoder"] = { { "type", "WordPiece" }, { "prefix", "##" }, { "cleanup", true } };
    j["model"] = { { "type", "WordPiece" }, { "unk_token", "[UNK]" }, { "continuing_subword_prefix", "##" },
        { "max_input_chars_per_word", 10 }, { "vocab", vocab } };
    return j;
}

inline std::unique_ptr<Tokenizer> loadJson(const fs::path& dir, const nlohmann::json& j, const std::string& name = "tokenizer.json")
{
    const fs::path file = dir / name;
    test::writeFile(file, j.dump());
    return loadTokenizer(file);
}

// Strings no vocabulary above knows whole: emoji, CJK, combining accents, control bytes.
inline std::vector<std::string> awkwardTexts()
{
    return { "", " ", "the the  then\tthe\n\n", "héllo wörld — “quotes”", "e\xCC\x81 vs \xC3\xA9",
        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C", "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD x",
        std::string("ctl \x01\x02\x1b[0m\x7f", 12) + std::string(1, '\0') + "end", "  leading and trailing  ",
        "don't I'll we've 12345 3.14", "\r\n\r\n", "ab ab aab abab" };
}

// The "slow" files of a tokenizer.json's BPE model: vocab.json and merges.txt (with a #version line).
inline void writeSlowBpe(const fs::path& dir, const nlohmann::json& j)
{
    fs::create_directories(dir);
    test::writeFile(dir / "vocab.json", j["model"]["vocab"].dump());
    std::string merges = "#version: 0.2\n";
    for (const auto& m : j["model"]["merges"])
        merges += (m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>())
            + "\n";
    test::writeFile(dir / "merges.txt", merges);
}

// A WordPiece model's vocab.txt: one token per line, in id order.
inline void writeVocabTxt(const fs::path& dir, const nlohmann::json& j)
{
    fs::create_directories(dir);
    std::vector<std::string> tokens(j["model"]["vocab"].size());
    for (const auto& [token, id] : j["model"]["vocab"].items())
        tokens[id.get<std::size_t>()] = token;
    std::string text;
    for (const auto& t : tokens)
        text += t + "\n";
    test::writeFile(dir / "vocab.txt", text);
}

} // namespace tokfix
