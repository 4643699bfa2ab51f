// The native Llama runtime on stories260K (../shared/models, see SOURCE.md there): greedy
// decoding reproduces llama2.c's documented output, the perplexity protocol gives 3.955, int8
// per-channel weights change it by less than 1%, and simulated W8A8 stays close to the float
// model. Plus configuration errors and the data loader.
#include "error.h"
#include "io/checkpoint.h"
#include "io/llama2c_tokenizer.h"
#include "jobs/progress.h"
#include "quant/quant_scheme.h"
#include "runtime/eval_data.h"
#include "runtime/fake_quant.h"
#include "runtime/llama_model.h"
#include "runtime/model_config.h"
#include "runtime/perplexity.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>

using namespace qs;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = QS_SHARED_MODELS_DIR;
const fs::path kStories = kModels / "stories260K" / "stories260K.bin";
const fs::path kText = kModels / "stories260K" / "tinystories_valid_sample10.txt";

QuantScheme preset(const char* name)
{
    return *findSchemePreset(name);
}

} // namespace

class TestRuntime : public QObject
{
    Q_OBJECT

    NullProgress m_progress;

private Q_SLOTS:
    void initTestCase()
    {
        if (!fs::exists(kStories) || !fs::exists(kText))
            QSKIP("../shared/models/stories260K is absent: the runtime checks need the real model");
    }

    void greedyDecodingReproducesLlama2c()
    {
        const Checkpoint c = Checkpoint::open(kStories);
        const ModelConfig config = modelConfigFromJson(c.config());
        QVERIFY(config.ropeInterleaved);
        QCOMPARE(config.kvHeads, std::int64_t(4));
        const LlamaModel model = LlamaModel::load(c, config);
        const std::vector<std::int64_t> ids = model.greedy({ 1 }, 60);
        QCOMPARE(ids.size(), std::size_t(61));
        const Llama2cTokenizer tok = Llama2cTokenizer::read(c.tokenizerFile(), 512);
        const std::string text = tok.decode(std::vector<int>(ids.begin(), ids.end()));
        QCOMPARE(QString::fromStdString(text),
            QStringLiteral("Once upon a time, there was a little girl named Lily. She loved to play outside in the "
                           "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high"));
    }

    void perplexityProtocolGives3955()
    {
        const Checkpoint c = Checkpoint::open(kStories);
        const ModelConfig config = modelConfigFromJson(c.config());
        const LlamaModel model = LlamaModel::load(c, config);
        const std::vector<std::int64_t> ids = loadEvalTokens(kText, c, config.vocabSize);
        QCOMPARE(ids.size(), std::size_t(3361));
        PerplexityOptions o;
        o.seqLen = 256;
        const PerplexityResult r = evaluatePerplexity(model, ids, o, m_progress);
        QCOMPARE(r.tokens, std::int64_t(3360));
        QCOMPARE(r.windows, 14);
        qInfo("stories260K: perplexity %.4f, mean NLL %.4f", r.perplexity, r.meanNll);
        QVERIFY2(std::fabs(r.perplexity - 3.955) <= 0.01, qPrintable(QString::number(r.perplexity)));

        // fms-mo's block formula on the same data: 13 blocks of 256, 255 predictions each.
        o.protocol = PerplexityProtocol::Blocks;
        const PerplexityResult b = evaluatePerplexity(model, ids, o, m_progress);
        QCOMPARE(b.windows, 13);
        QCOMPARE(b.tokens, std::int64_t(13 * 255));
        QVERIFY(b.perplexity > 3.5 && b.perplexity < 4.5);

        // int8 per-channel weights: less than 1% change; the comparison metrics make sense.
        o.protocol = PerplexityProtocol::Overlap;
        const LlamaModel int8 = LlamaModel::load(c, config, fakeQuantizeWeights(preset("nxd-int8"), {}));
        const PerplexityResult q = evaluatePerplexity(int8, ids, o, m_progress, {}, &model);
        qInfo("int8 per-channel: perplexity %.4f (%+.3f%%), KL %.3g, top-1 %.4f", q.perplexity,
            100 * (q.perplexity / r.perplexity - 1), q.klDivergence, q.top1Agreement);
        QVERIFY(q.compared);
        QCOMPARE(q.referencePerplexity, r.perplexity);
        QVERIFY(std::fabs(q.perplexity / r.perplexity - 1) < 0.01);
        QVERIFY(q.klDivergence > 0 && q.klDivergence < 0.01);
        QVERIFY(q.top1Agreement > 0.95);

        // W8A8 with dynamic per-token int8 activations, a kept module left alone.
        const QuantScheme w8a8 = preset("vllm-w8a8-int8");
        const std::set<std::string> kept { "model.layers.0.mlp.down_proj" };
        const LlamaModel wq = LlamaModel::load(c, config, fakeQuantizeWeights(w8a8, kept));
        const PerplexityResult a
            = evaluatePerplexity(wq, ids, o, m_progress, fakeQuantizeActivations(w8a8, kept), &model);
        qInfo("W8A8: perplexity %.4f, KL %.3g, top-1 %.4f", a.perplexity, a.klDivergence, a.top1Agreement);
        QVERIFY(a.klDivergence > q.klDivergence); // activations add error
        QVERIFY(a.top1Agreement > 0.9);

        // Cancellation between windows.
        struct Cancelled final : Progress
        {
            void report(const ProgressUpdate&) override { }
            bool cancelled() const override { return true; }
        } cancelled;
        QVERIFY_THROWS_EXCEPTION(CancelledError, evaluatePerplexity(model, ids, o, cancelled));
    }

    void configurationErrors()
    {
        nlohmann::json j = { { "model_type", "gpt2" } };
        QVERIFY_THROWS_EXCEPTION(UsageError, modelConfigFromJson(j));
        j = { { "model_type", "llama" }, { "vocab_size", 10 }, { "hidden_size", 64 }, { "num_hidden_layers", 1 },
            { "num_attention_heads", 4 }, { "num_key_value_heads", 3 }, { "intermediate_size", 8 } };
        QVERIFY_THROWS_EXCEPTION(FormatError, modelConfigFromJson(j));
        j["num_key_value_heads"] = 2;
        j["rope_scaling"] = { { "rope_type", "yarn" }, { "factor", 2 } };
        QVERIFY_THROWS_EXCEPTION(UsageError, modelConfigFromJson(j));
        j["rope_scaling"] = { { "rope_type", "llama3" }, { "factor", 8.0 }, { "low_freq_factor", 1.0 },
            { "high_freq_factor", 4.0 }, { "original_max_position_embeddings", 8192 } };
        const ModelConfig m = modelConfigFromJson(j);
        QCOMPARE(m.headDim, std::int64_t(16));
        QCOMPARE(m.ropeScaling.type, std::string("llama3"));
        j.erase("hidden_size");
        QVERIFY_THROWS_EXCEPTION(FormatError, modelConfigFromJson(j));
    }

    void dataFiles()
    {
        const Checkpoint c = Checkpoint::open(kStories);
        QTemporaryDir dir;
        const fs::path ids = dir.filePath("ids.json").toStdString();
        test::writeFile(ids, "[[1, 2, 3], [4, 5]]");
        QCOMPARE(loadEvalTokens(ids, c, 512), (std::vector<std::int64_t> { 1, 2, 3, 4, 5 }));
        test::writeFile(ids, "[1, 600]");
        QVERIFY_THROWS_EXCEPTION(FormatError, loadEvalTokens(ids, c, 512));
        const fs::path lines = dir.filePath("data.jsonl").toStdString();
        test::writeFile(lines, "{\"text\": \"Once upon a time\"}\n\n{\"text\": \"Spot.\"}\n");
        const std::vector<std::int64_t> encoded = loadEvalTokens(lines, c, 512);
        QCOMPARE(std::count(encoded.begin(), encoded.end(), 1), 2); // one BOS per line
        test::writeFile(lines, "{\"title\": 1}\n");
        QVERIFY_THROWS_EXCEPTION(FormatError, loadEvalTokens(lines, c, 512));
        QVERIFY_THROWS_EXCEPTION(IoError, loadEvalTokens(dir.filePath("missing.txt").toStdString(), c, 512));
    }
};

QTEST_GUILESS_MAIN(TestRuntime)
#include "tst_runtime.moc"
