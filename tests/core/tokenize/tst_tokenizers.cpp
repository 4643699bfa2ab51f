// SPDX-License-Identifier: GPL-3.0-or-later
// The tokenizers of the calibration runtime: llama2.c through the common interface (identical to
// run.c's encode on stories260K), byte-level and byte-fallback BPE round trips of arbitrary
// UTF-8, WordPiece unknowns, added and special tokens, malformed tokenizer.json files,
// nanoGPT meta.pkl (bytes written by Python 3's pickle), discovery beside checkpoints (the older
// vocab.json / vocab.txt files: tst_tokenizers_legacy).
#include "error.h"
#include "io/checkpoint.h"
#include "runtime/eval_data.h"
#include "test_support.h"
#include "tokenize/llama2c_tokenizer.h"
#include "tokenize/tokenizer.h"
#include "tokenizer_fixtures.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

#include <sys/mman.h>

using namespace tokfix;


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
