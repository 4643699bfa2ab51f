// The tokenizers of the calibration runtime: llama2.c through the common interface (identical to
// run.c's encode on stories260K), byte-level and byte-fallback BPE round trips of arbitrary
// UTF-8, WordPiece unknowns, added and special tokens, malformed tokenizer.json files,
// nanoGPT meta.pkl (bytes written by Python 3's pickle), the older vocab.json + merges.txt and
// vocab.txt files (as their tokenizer.json equivalents), discovery beside checkpoints.
#include "error.h"
#include "io/checkpoint.h"
#include "io/llama2c_tokenizer.h"
#include "runtime/eval_data.h"
#include "runtime/tokenizer.h"
#include "test_support.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

#include <sys/mman.h>

using namespace qs;
namespace fs = std::filesystem;
using Ids = std::vector<std::int64_t>;

namespace {

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
std::vector<std::string> byteAlphabet()
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
nlohmann::json byteLevelJson()
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
nlohmann::json byteFallbackJson()
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
nlohmann::json wordPieceJson()
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

std::unique_ptr<Tokenizer> loadJson(const fs::path& dir, const nlohmann::json& j, const std::string& name = "tokenizer.json")
{
    const fs::path file = dir / name;
    test::writeFile(file, j.dump());
    return loadTokenizer(file);
}

// Strings no vocabulary above knows whole: emoji, CJK, combining accents, control bytes.
std::vector<std::string> awkwardTexts()
{
    return { "", " ", "the the  then\tthe\n\n", "héllo wörld — “quotes”", "e\xCC\x81 vs \xC3\xA9",
        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C", "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD x",
        std::string("ctl \x01\x02\x1b[0m\x7f", 12) + std::string(1, '\0') + "end", "  leading and trailing  ",
        "don't I'll we've 12345 3.14", "\r\n\r\n", "ab ab aab abab" };
}

// The "slow" files of a tokenizer.json's BPE model: vocab.json and merges.txt (with a #version line).
void writeSlowBpe(const fs::path& dir, const nlohmann::json& j)
{
    fs::create_directories(dir);
    test::writeFile(dir / "vocab.json", j["model"]["vocab"].dump());
    std::string merges = "#version: 0.2\n";
    for (const auto& m : j["model"]["merges"])
        merges += (m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>()) + "\n";
    test::writeFile(dir / "merges.txt", merges);
}

// A WordPiece model's vocab.txt: one token per line, in id order.
void writeVocabTxt(const fs::path& dir, const nlohmann::json& j)
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

} // namespace

class TestTokenizers : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void llama2cThroughTheInterface()
    {
        if (!fs::exists(kTok512) || !fs::exists(kText))
            QSKIP("../shared/models/stories260K is absent: the llama2.c check needs its tok512.bin");
        const auto tok = loadTokenizer(kTok512, 512);
        const Llama2cTokenizer reference = Llama2cTokenizer::read(kTok512, 512);
        QCOMPARE(tok->kind(), std::string("llama2c"));
        QCOMPARE(tok->vocabSize(), std::int64_t(512));
        const std::string text = test::readFile(kText);
        const Ids ids = tok->encode(text, true);
        const std::vector<int> expected = reference.encode(text, true, false);
        QCOMPARE(ids, Ids(expected.begin(), expected.end()));
        QCOMPARE(ids.size(), std::size_t(3361));
        QCOMPARE(ids.front(), std::int64_t(1));
        QCOMPARE(tok->decode(ids), text);
        const Ids bare = tok->encode("Once upon a time", false);
        QVERIFY(bare.front() != 1);
        QCOMPARE(tok->decode(bare), std::string("Once upon a time"));
        QCOMPARE(*tok->bosToken(), std::int64_t(1));
        // the tok<N>.bin name gives the vocabulary size
        QCOMPARE(loadTokenizer(kTok512)->encode(text, true), ids);
    }

    void evalTokensThroughTheCheckpoint()
    {
        if (!fs::exists(kStories) || !fs::exists(kText))
            QSKIP("../shared/models/stories260K is absent: the data loader check needs the real model");
        const Checkpoint c = Checkpoint::open(kStories);
        QCOMPARE(loadEvalTokens(kText, c, 512).size(), std::size_t(3361));
        QCOMPARE(tokenizerFor(c, 512)->kind(), std::string("llama2c"));
    }

    void byteLevelBpe()
    {
        QVERIFY(m_dir.isValid());
        const auto tok = loadJson(m_dir.path().toStdString(), byteLevelJson());
        QCOMPARE(tok->kind(), std::string("bpe"));
        QCOMPARE(tok->vocabSize(), std::int64_t(261));
        // "the" merges fully, " the" through "Ġ" + "the"; "then" keeps a byte 'n' (110)
        QCOMPARE(tok->encode("the the then", true), (Ids { 257, 259, 259, 'n' }));
        QCOMPARE(tok->encode("the<|endoftext|>the", false), (Ids { 257, 260, 257 }));
        QCOMPARE(tok->decode({ 257, 260, 259 }), std::string("the the")); // the special token is skipped
        QCOMPARE(*tok->tokenId("Ġthe"), std::int64_t(259));
        QVERIFY(!tok->maskToken());
        for (const std::string& text : awkwardTexts())
            QCOMPARE(tok->decode(tok->encode(text, true)), text);
        // every byte value, including invalid UTF-8, survives the byte-level alphabet
        std::string allBytes;
        for (int b = 0; b < 256; ++b)
            allBytes += char(b);
        QCOMPARE(tok->encode(allBytes, false).size(), std::size_t(256));
    }

    void byteFallbackBpe()
    {
        const auto tok = loadJson(m_dir.path().toStdString(), byteFallbackJson());
        // BOS; "▁a ▁a b": both "▁ a" (rank 0) merge before "a b" (rank 1) could; "é" whole; "€" is
        // not in the vocabulary: three byte tokens
        QCOMPARE(tok->encode("a abé€", true), (Ids { 1, 262, 262, 261, 264, 3 + 0xE2, 3 + 0x82, 3 + 0xAC }));
        QCOMPARE(tok->encode("ab", false), (Ids { 262, 261 })); // "▁ab": "▁ a" outranks "a b"
        QCOMPARE(tok->encode("a", false), (Ids { 262 }));
        QCOMPARE(*tok->bosToken(), std::int64_t(1));
        QCOMPARE(*tok->eosToken(), std::int64_t(2));
        for (const std::string& text : awkwardTexts())
            QCOMPARE(tok->decode(tok->encode(text, true)), text);
        // a cut multi-byte sequence decodes to U+FFFD per byte instead of failing
        QCOMPARE(tok->decode({ 3 + 0xE2, 3 + 0x82 }), std::string("\xEF\xBF\xBD\xEF\xBF\xBD"));
    }

    void wordPiece()
    {
        const auto tok = loadJson(m_dir.path().toStdString(), wordPieceJson());
        QCOMPARE(tok->kind(), std::string("wordpiece"));
        // lower-cased, split at punctuation; "unknown" is un ##know ##n; "xyz" and "!" are unknown;
        // "Café" loses its accent; a word over max_input_chars_per_word (10) is one [UNK]
        QCOMPARE(tok->encode("Hello, Worlds! unknown xyz Café hellohellohello", true),
            (Ids { 2, 5, 8, 6, 7, 1, 9, 10, 11, 1, 12, 1, 3 }));
        QCOMPARE(tok->encode("hello [MASK] world", false), (Ids { 5, 4, 6 }));
        QCOMPARE(*tok->maskToken(), std::int64_t(4));
        QCOMPARE(*tok->bosToken(), std::int64_t(2));
        QCOMPARE(*tok->eosToken(), std::int64_t(3));
        QCOMPARE(tok->decode({ 2, 5, 8, 6, 7, 9, 10, 11, 3 }), std::string("hello, worlds unknown"));
    }

    void addedTokenOptions()
    {
        nlohmann::json j = byteLevelJson();
        j["model"]["vocab"]["<mask>"] = 261;
        j["added_tokens"].push_back({ { "id", 261 }, { "content", "<mask>" }, { "single_word", false },
            { "lstrip", true }, { "rstrip", false }, { "normalized", false }, { "special", true } });
        const auto tok = loadJson(m_dir.path().toStdString(), j);
        // lstrip swallows the space before <mask>
        QCOMPARE(tok->encode("the <mask>", false), (Ids { 257, 261 }));
        QCOMPARE(*tok->maskToken(), std::int64_t(261));
        // the longest added token of a group wins where several start (normalized: false, to be
        // in <mask>'s group: raw tokens are matched before normalized ones, as in the library)
        j["added_tokens"].push_back({ { "id", 262 }, { "content", "<mask>>" }, { "special", false }, { "normalized", false } });
        const auto longer = loadJson(m_dir.path().toStdString(), j);
        QCOMPARE(longer->encode("<mask>>", false), (Ids { 262 }));
        QCOMPARE(longer->decode({ 262 }), std::string("<mask>>")); // not special: kept
    }

    void malformedFiles_data()
    {
        QTest::addColumn<QString>("content");
        QTest::addColumn<QString>("message");
        QTest::addColumn<bool>("usage");
        auto withModel = [](const char* key, nlohmann::json value) {
            nlohmann::json j = byteLevelJson();
            j[key] = std::move(value);
            return QString::fromStdString(j.dump());
        };
        QTest::newRow("not json") << "{\"model\": " << "not JSON" << false;
        QTest::newRow("no model") << "{\"normalizer\": null}" << "\"model\"" << false;
        QTest::newRow("unknown normalizer") << withModel("normalizer", { { "type", "Precompiled" } })
                                            << "normalizer type \"Precompiled\" is not supported" << true;
        QTest::newRow("unknown pre-tokenizer") << withModel("pre_tokenizer", { { "type", "UnicodeScripts" } })
                                               << "pre_tokenizer type \"UnicodeScripts\"" << true;
        QTest::newRow("unknown decoder") << withModel("decoder", { { "type", "CTC" } }) << "decoder type \"CTC\"" << true;
        QTest::newRow("unigram") << withModel("model", { { "type", "Unigram" }, { "vocab", nlohmann::json::array() } })
                                 << "model type \"Unigram\"" << true;
        nlohmann::json badMerge = byteLevelJson();
        badMerge["model"]["merges"].push_back("zz q");
        QTest::newRow("merge of unknown tokens")
            << QString::fromStdString(badMerge.dump()) << "missing from the vocabulary: zz" << false;
        nlohmann::json badVocab = byteLevelJson();
        badVocab["model"]["vocab"]["x"] = "seven";
        QTest::newRow("vocab id not a number") << QString::fromStdString(badVocab.dump()) << "no valid id" << false;
        QTest::newRow("bad regex") << withModel("pre_tokenizer",
            { { "type", "Split" }, { "pattern", { { "Regex", "(" } } }, { "behavior", "Isolated" } })
                                   << "Split pattern" << false;
        QTest::newRow("wordpiece without unk")
            << withModel("model", { { "type", "WordPiece" }, { "unk_token", "[UNK]" }, { "vocab", { { "a", 0 } } } })
            << "unk_token \"[UNK]\" is not in the vocabulary" << false;
    }

    void malformedFiles()
    {
        QFETCH(QString, content);
        QFETCH(QString, message);
        QFETCH(bool, usage);
        const fs::path file = fs::path(m_dir.path().toStdString()) / "bad_tokenizer.json";
        test::writeFile(file, content.toStdString());
        try {
            loadTokenizer(file);
            QFAIL("no error");
        } catch (const Error& e) {
            const std::string what = e.what();
            QVERIFY2(what.find(message.toStdString()) != std::string::npos, what.c_str());
            QVERIFY2(what.find("bad_tokenizer.json") != std::string::npos, what.c_str());
            QCOMPARE(dynamic_cast<const UsageError*>(&e) != nullptr, usage);
            QCOMPARE(dynamic_cast<const FormatError*>(&e) != nullptr, !usage);
        }
    }

    void metaPklRoundTrip()
    {
        const fs::path file = fs::path(m_dir.path().toStdString()) / "meta.pkl";
        test::writeFile(file, std::string(kMetaPkl, sizeof kMetaPkl - 1));
        const auto tok = loadTokenizer(file);
        QCOMPARE(tok->kind(), std::string("char"));
        QCOMPARE(tok->vocabSize(), std::int64_t(9));
        // sorted characters: "\n", " ", d, e, h, l, o, r, w
        QCOMPARE(tok->encode("hello world\n", true), (Ids { 4, 3, 5, 5, 6, 1, 8, 6, 7, 5, 2, 0 }));
        QCOMPARE(tok->decode(tok->encode("world hello", false)), std::string("world hello"));
        try {
            tok->encode("hello, world", false);
            QFAIL("no error for an unknown character");
        } catch (const UsageError& e) {
            QVERIFY2(std::string(e.what()).find("\",\"") != std::string::npos, e.what());
        }
        const fs::path tiktoken = fs::path(m_dir.path().toStdString()) / "tiktoken" / "meta.pkl";
        fs::create_directories(tiktoken.parent_path());
        test::writeFile(tiktoken, std::string(kTiktokenMeta, sizeof kTiktokenMeta - 1));
        QVERIFY_THROWS_EXCEPTION(UsageError, loadTokenizer(tiktoken));
        test::writeFile(tiktoken, std::string(kMetaPkl, 40));
        QVERIFY_THROWS_EXCEPTION(FormatError, loadTokenizer(tiktoken));
    }

    void discoveryBesideCheckpoints()
    {
        const fs::path dir = fs::path(m_dir.path().toStdString()) / "model";
        fs::create_directories(dir);
        test::writeSafetensors(dir / "model.safetensors", { test::f32Tensor("w", { 2 }, { 1, 2 }) });
        test::writeFile(dir / "meta.pkl", std::string(kMetaPkl, sizeof kMetaPkl - 1));
        QCOMPARE(Checkpoint::open(dir).tokenizerFile().filename().string(), std::string("meta.pkl"));
        test::writeFile(dir / "tokenizer.model", "not read by discovery");
        QCOMPARE(Checkpoint::open(dir).tokenizerFile().filename().string(), std::string("tokenizer.model"));
        test::writeFile(dir / "tokenizer.json", byteLevelJson().dump());
        const Checkpoint c = Checkpoint::open(dir);
        QCOMPARE(c.tokenizerFile().filename().string(), std::string("tokenizer.json"));
        // text data through the checkpoint's tokenizer, with its special tokens; GPT-2 marks no
        // sequence, so documents are joined by <|endoftext|> (260)
        test::writeFile(dir / "data.jsonl", "{\"text\": \"the the\"}\n{\"text\": \"the\"}\n");
        QCOMPARE(loadEvalTokens(dir / "data.jsonl", c, 261), (Ids { 257, 259, 260, 257 }));
        QVERIFY_THROWS_EXCEPTION(FormatError, loadEvalTokens(dir / "data.jsonl", c, 258));
        fs::remove(dir / "tokenizer.json");
        fs::remove(dir / "tokenizer.model");
        fs::remove(dir / "meta.pkl");
        QVERIFY_THROWS_EXCEPTION(UsageError, tokenizerFor(Checkpoint::open(dir), 10));
    }

    void slowGpt2AndRobertaFiles()
    {
        // vocab.json + merges.txt run exactly as the equivalent tokenizer.json
        const fs::path dir = fs::path(m_dir.path().toStdString()) / "slow_gpt2";
        writeSlowBpe(dir, byteLevelJson());
        const auto fast = loadJson(m_dir.path().toStdString(), byteLevelJson());
        const auto slow = loadTokenizer(dir / "vocab.json");
        QCOMPARE(slow->kind(), std::string("bpe"));
        QCOMPARE(slow->vocabSize(), std::int64_t(261));
        std::vector<std::string> texts = awkwardTexts();
        texts.push_back("the<|endoftext|>the then");
        for (const std::string& text : texts)
            for (const bool special : { true, false }) {
                const Ids ids = slow->encode(text, special);
                QCOMPARE(ids, fast->encode(text, special));
                QCOMPARE(slow->decode(ids), fast->decode(ids));
            }
        // added_tokens.json adds plain tokens; tokenizer_config.json sets add_prefix_space
        test::writeFile(dir / "added_tokens.json", "{\"<new>\": 261}");
        test::writeFile(dir / "tokenizer_config.json", "{\"add_prefix_space\": true}");
        const auto configured = loadTokenizer(dir / "vocab.json");
        QCOMPARE(configured->encode("the<new>", false), (Ids { 259, 261 }));
        QCOMPARE(configured->decode({ 257, 261, 260 }), std::string("the<new>"));
        // merges.txt is required, and named when missing
        fs::remove(dir / "merges.txt");
        try {
            loadTokenizer(dir / "vocab.json");
            QFAIL("no error without merges.txt");
        } catch (const FormatError& e) {
            QVERIFY2(std::string(e.what()).find("merges.txt") != std::string::npos, e.what());
        }
        // RoBERTa (config.json's model_type): <s> .. </s> around a sequence, <mask> swallows the space before it
        nlohmann::json roberta = byteLevelJson();
        nlohmann::json vocab = { { "<s>", 0 }, { "<pad>", 1 }, { "</s>", 2 }, { "<unk>", 3 } };
        for (const auto& [token, id] : roberta["model"]["vocab"].items())
            if (token != "<|endoftext|>")
                vocab[token] = id.get<int>() + 4;
        vocab["<mask>"] = 264;
        roberta["model"]["vocab"] = vocab;
        const fs::path rdir = fs::path(m_dir.path().toStdString()) / "slow_roberta";
        writeSlowBpe(rdir, roberta);
        test::writeFile(rdir / "config.json", "{\"model_type\": \"roberta\"}");
        const auto r = loadTokenizer(rdir / "vocab.json");
        QCOMPARE(r->encode("the <mask>", true), (Ids { 0, 261, 264, 2 }));
        QCOMPARE(r->encode("<s>the <|endoftext|>", false).front(), std::int64_t(0));
        QCOMPARE(*r->maskToken(), std::int64_t(264));
        QCOMPARE(*r->bosToken(), std::int64_t(0));
        QCOMPARE(*r->eosToken(), std::int64_t(2));
        QCOMPARE(r->decode({ 0, 261, 264, 263, 2 }), std::string("the the"));
    }

    void slowBertFiles()
    {
        const fs::path dir = fs::path(m_dir.path().toStdString()) / "slow_bert";
        nlohmann::json j = wordPieceJson();
        writeVocabTxt(dir, j);
        j["model"]["max_input_chars_per_word"] = 100;
        const auto fast = loadJson(m_dir.path().toStdString(), j);
        const auto slow = loadTokenizer(dir / "vocab.txt");
        QCOMPARE(slow->kind(), std::string("wordpiece"));
        QCOMPARE(slow->vocabSize(), std::int64_t(13));
        std::vector<std::string> texts = awkwardTexts();
        texts.push_back("Hello, Worlds! unknown xyz Café hellohellohello [MASK] [cls] \xE4\xBD\xA0\xE5\xA5\xBD");
        for (const std::string& text : texts)
            for (const bool special : { true, false }) {
                const Ids ids = slow->encode(text, special);
                QCOMPARE(ids, fast->encode(text, special));
                QCOMPARE(slow->decode(ids), fast->decode(ids));
            }
        QCOMPARE(*slow->maskToken(), std::int64_t(4));
        // tokenizer_config.json: cased, and strip_accents on its own
        test::writeFile(dir / "tokenizer_config.json", "{\"do_lower_case\": false}");
        QCOMPARE(loadTokenizer(dir / "vocab.txt")->encode("Hello hello café", false), (Ids { 1, 5, 1 }));
        test::writeFile(dir / "tokenizer_config.json", "{\"do_lower_case\": false, \"strip_accents\": true}");
        QCOMPARE(loadTokenizer(dir / "vocab.txt")->encode("Hello café", false), (Ids { 1, 12 }));
        test::writeFile(dir / "tokenizer_config.json", "{\"do_lower_case\": true, \"strip_accents\": false}");
        QCOMPARE(loadTokenizer(dir / "vocab.txt")->encode("HELLO CAFE café", false), (Ids { 5, 12, 1 }));
        test::writeFile(dir / "tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
        QVERIFY_THROWS_EXCEPTION(FormatError, loadTokenizer(dir / "vocab.txt"));
    }

    void discoveryOfSlowFiles()
    {
        // without tokenizer.json: tokenizer.model, then vocab.json + merges.txt, then vocab.txt, then meta.pkl
        const fs::path dir = fs::path(m_dir.path().toStdString()) / "slow_model";
        fs::create_directories(dir);
        test::writeSafetensors(dir / "model.safetensors", { test::f32Tensor("w", { 2 }, { 1, 2 }) });
        const auto found = [&] { return Checkpoint::open(dir).tokenizerFile().filename().string(); };
        test::writeFile(dir / "meta.pkl", std::string(kMetaPkl, sizeof kMetaPkl - 1));
        QCOMPARE(found(), std::string("meta.pkl"));
        writeVocabTxt(dir, wordPieceJson());
        QCOMPARE(found(), std::string("vocab.txt"));
        QCOMPARE(loadTokenizer(Checkpoint::open(dir).tokenizerFile())->kind(), std::string("wordpiece"));
        test::writeFile(dir / "vocab.json", byteLevelJson()["model"]["vocab"].dump());
        QCOMPARE(found(), std::string("vocab.txt")); // vocab.json alone is not a tokenizer
        writeSlowBpe(dir, byteLevelJson());
        QCOMPARE(found(), std::string("vocab.json"));
        QCOMPARE(loadTokenizer(Checkpoint::open(dir).tokenizerFile())->kind(), std::string("bpe"));
        test::writeFile(dir / "tokenizer.model", "not read by discovery");
        QCOMPARE(found(), std::string("tokenizer.model"));
        test::writeFile(dir / "tokenizer.json", byteLevelJson().dump());
        QCOMPARE(found(), std::string("tokenizer.json"));
    }

    void normalizedAddedTokens()
    {
        // normalized: true tokens are normalized (lower-cased here) and matched in the normalized
        // text, special or not; normalized: false ones on the raw text
        nlohmann::json j = wordPieceJson();
        j["added_tokens"].push_back({ { "id", 13 }, { "content", "NewTok" }, { "single_word", false },
            { "lstrip", false }, { "rstrip", false }, { "normalized", true }, { "special", false } });
        j["added_tokens"].push_back({ { "id", 14 }, { "content", "<Extra>" }, { "single_word", false },
            { "lstrip", false }, { "rstrip", false }, { "normalized", true }, { "special", true } });
        j["added_tokens"].push_back({ { "id", 15 }, { "content", "RawTok" }, { "single_word", false },
            { "lstrip", false }, { "rstrip", false }, { "normalized", false }, { "special", false } });
        const auto tok = loadJson(m_dir.path().toStdString(), j);
        QCOMPARE(tok->encode("hello NewTok NEWTOK newtok", false), (Ids { 5, 13, 13, 13 }));
        QCOMPARE(tok->encode("<EXTRA>hello<extra>", false), (Ids { 14, 5, 14 }));
        QCOMPARE(tok->encode("RawTok", false), (Ids { 15 }));
        QCOMPARE(tok->encode("rawtok", false), (Ids { 1 })); // raw: only the exact spelling
        QCOMPARE(tok->decode({ 5, 13, 14 }), std::string("hello NewTok")); // the special one is skipped
    }

    void truncationAndPaddingAreIgnored()
    {
        nlohmann::json j = wordPieceJson();
        j["truncation"] = { { "direction", "Right" }, { "max_length", 3 }, { "strategy", "LongestFirst" },
            { "stride", 0 } };
        j["padding"] = { { "strategy", { { "Fixed", 16 } } }, { "direction", "Right" }, { "pad_to_multiple_of", nullptr },
            { "pad_id", 0 }, { "pad_type_id", 0 }, { "pad_token", "[PAD]" } };
        const auto tok = loadJson(m_dir.path().toStdString(), j);
        QCOMPARE(tok->encode("hello world hello world", true), (Ids { 2, 5, 6, 5, 6, 3 }));
    }

    void greekSigmaLowercasesPerCharacter()
    {
        // the library lower-cases character by character: a final capital sigma becomes σ, not ς
        nlohmann::json j = wordPieceJson();
        j["model"]["vocab"]["οδοσ"] = 13;
        const auto tok = loadJson(m_dir.path().toStdString(), j);
        QCOMPARE(tok->encode("ΟΔΟΣ ΟΔΟΣ.", false), (Ids { 13, 13, 1 }));
        j["normalizer"] = { { "type", "Lowercase" } };
        QCOMPARE(loadJson(m_dir.path().toStdString(), j)->encode("ΟΔΟΣ", false), (Ids { 13 }));
    }

    void bpeUnknownAndDuplicateMerges()
    {
        // an unk_token missing from the vocabulary: loads (as the library does), fails when needed
        nlohmann::json j = byteFallbackJson();
        j["model"]["unk_token"] = "<missing>";
        j["model"]["byte_fallback"] = false;
        const auto tok = loadJson(m_dir.path().toStdString(), j, "missing_unk.json");
        QCOMPARE(tok->encode("ab", false), (Ids { 262, 261 }));
        try {
            tok->encode("a€", false);
            QFAIL("no error for a character that needs the missing unk_token");
        } catch (const FormatError& e) {
            const std::string what = e.what();
            QVERIFY2(what.find("missing_unk.json") != std::string::npos, what.c_str());
            QVERIFY2(what.find("<missing>") != std::string::npos, what.c_str());
        }
        // a repeated merge keeps its last rank: "▁ a" (now rank 2) loses to "a b" (rank 1)
        j = byteFallbackJson();
        j["model"]["merges"] = { "▁ a", "a b", "▁ a" };
        QCOMPARE(loadJson(m_dir.path().toStdString(), j)->encode("ab", false), (Ids { 259, 263 }));
    }

    void hugeIdsAreRefused()
    {
        nlohmann::json j = byteLevelJson();
        j["model"]["vocab"]["far"] = 50'000'000;
        const fs::path file = fs::path(m_dir.path().toStdString()) / "huge_id.json";
        test::writeFile(file, j.dump());
        try {
            loadTokenizer(file);
            QFAIL("no error");
        } catch (const FormatError& e) {
            const std::string what = e.what();
            QVERIFY2(what.find("huge_id.json") != std::string::npos && what.find("50000000") != std::string::npos,
                what.c_str());
        }
        // pickle.dumps({'stoi': {'a': 100000000}}, protocol=2) without memo
        const char pkl[] = "\x80\x02}X\x04\x00\x00\x00stoi}X\x01\x00\x00\x00"
                           "aJ\x00\xe1\xf5\x05ss.";
        const fs::path meta = fs::path(m_dir.path().toStdString()) / "huge_meta.pkl";
        test::writeFile(meta, std::string(pkl, sizeof pkl - 1));
        try {
            loadTokenizer(meta);
            QFAIL("no error");
        } catch (const FormatError& e) {
            const std::string what = e.what();
            QVERIFY2(what.find("huge_meta.pkl") != std::string::npos && what.find("100000000") != std::string::npos,
                what.c_str());
        }
    }

    void decoderDetails()
    {
        // ByteFallback reads <0xNN> in either case
        nlohmann::json j = byteFallbackJson();
        j["model"]["vocab"]["<0xc3>"] = 265;
        j["model"]["vocab"]["<0xa9>"] = 266;
        QCOMPARE(loadJson(m_dir.path().toStdString(), j)->decode({ 260, 265, 266 }), std::string("aé"));
        // byte-level: one U+FFFD per maximal invalid subsequence, like String::from_utf8_lossy
        const auto tok = loadJson(m_dir.path().toStdString(), byteLevelJson());
        QCOMPARE(tok->decode({ 0xE2, 0x82, 'A' }), std::string("\xEF\xBF\xBD" "A"));
        QCOMPARE(tok->decode({ 0xF0, 0x80, 'A' }), std::string("\xEF\xBF\xBD\xEF\xBF\xBD" "A"));
        QCOMPARE(tok->decode({ 0xC3 }), std::string("\xEF\xBF\xBD"));
    }

    void refusesTextOverOneGib()
    {
        // address space only (PROT_NONE): encode must refuse before reading a byte
        const std::size_t size = kMaxEncodeBytes + 1;
        void* p = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            QSKIP("cannot reserve 1 GiB of address space");
        const std::string_view text(static_cast<const char*>(p), size);
        for (const nlohmann::json& j : { byteLevelJson(), wordPieceJson() }) {
            const auto tok = loadJson(m_dir.path().toStdString(), j);
            try {
                tok->encode(text, false);
                QFAIL("no error");
            } catch (const UsageError& e) {
                QVERIFY2(std::string(e.what()).find("1 GiB") != std::string::npos, e.what());
            }
        }
        const fs::path meta = fs::path(m_dir.path().toStdString()) / "big_text_meta.pkl";
        test::writeFile(meta, std::string(kMetaPkl, sizeof kMetaPkl - 1));
        const auto chars = loadTokenizer(meta);
        QVERIFY_THROWS_EXCEPTION(UsageError, chars->encode(text, false));
        munmap(p, size);
    }

    void concurrentEncodesAgree()
    {
        // one tokenizer (shared regex matchers, BPE cache) used from several threads at once
        std::string text;
        const std::vector<std::string> texts = awkwardTexts();
        for (int i = 0; i < 200; ++i)
            text += texts[std::size_t(i) % texts.size()] + " the word" + std::to_string(i) + " ";
        for (const nlohmann::json& j : { byteLevelJson(), wordPieceJson() }) {
            const auto tok = loadJson(m_dir.path().toStdString(), j);
            const Ids expected = tok->encode(text, true);
            std::vector<Ids> got(4);
            std::vector<std::thread> threads;
            for (std::size_t t = 0; t < got.size(); ++t)
                threads.emplace_back([&, t] {
                    for (int k = 0; k < 5; ++k)
                        got[t] = tok->encode(text, true);
                });
            for (auto& th : threads)
                th.join();
            for (const Ids& ids : got)
                QCOMPARE(ids, expected);
        }
    }

    void encodingScalesLinearly()
    {
        // Robust on a loaded machine and under sanitizers: 1 MiB must take no more than a
        // generous multiple of the per-byte time of 64 KiB measured in the same run (a quadratic
        // step would be ~16x over), plus a loose absolute bound.
        std::string text;
        const std::vector<std::string> texts = awkwardTexts();
        for (std::size_t i = 0; text.size() < (1u << 20); ++i)
            text += texts[i % texts.size()] + " the word" + std::to_string(i) + " ";
        const std::string small = text.substr(0, 1u << 16);
        for (const nlohmann::json& j : { byteLevelJson(), byteFallbackJson(), wordPieceJson() }) {
            const auto tok = loadJson(m_dir.path().toStdString(), j);
            tok->encode(small, true); // warm up
            QElapsedTimer timer;
            timer.start();
            tok->encode(small, true);
            const qint64 baseMs = timer.elapsed();
            timer.restart();
            const Ids ids = tok->encode(text, true);
            const qint64 ms = timer.elapsed();
            qInfo("%s: %zu ids for %zu bytes in %lld ms (64 KiB: %lld ms)", tok->kind().c_str(), ids.size(),
                text.size(), ms, baseMs);
            QVERIFY2(ms < 20000, "encoding 1 MiB took over 20 s");
            QVERIFY2(ms <= 16 * 4 * baseMs + 500, "encoding 1 MiB took far over 16x the time of 64 KiB");
        }
    }
};

QTEST_GUILESS_MAIN(TestTokenizers)
#include "tst_tokenizers.moc"
