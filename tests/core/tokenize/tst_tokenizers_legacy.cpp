// SPDX-License-Identifier: GPL-3.0-or-later
// The older Hugging Face tokenizer files: vocab.json + merges.txt (GPT-2, RoBERTa) and vocab.txt
// (BERT) give the same ids and text as their tokenizer.json equivalents, with the options their
// tokenizer_config.json sets, and are found beside checkpoints in the documented order.
#include "error.h"
#include "io/checkpoint.h"
#include "tokenize/tokenizer.h"
#include "tokenizer_fixtures.h"

#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <filesystem>

using namespace tokfix;

class TestTokenizersLegacy : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
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
};

QTEST_GUILESS_MAIN(TestTokenizersLegacy)
#include "tst_tokenizers_legacy.moc"
