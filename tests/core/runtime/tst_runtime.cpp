// SPDX-License-Identifier: GPL-3.0-or-later
// The native Llama runtime on stories260K (../shared/models, see SOURCE.md there): greedy
// decoding reproduces llama2.c's documented output, the perplexity protocol gives 3.955, int8
// per-channel weights change it by less than 1%, and simulated W8A8 stays close to the float
// model. Plus configuration errors and the data loader.
#include "error.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "models/language_model.h"
#include "models/model_config.h"
#include "quant/quant_scheme.h"
#include "runtime/activation_capture.h"
#include "runtime/calibration.h"
#include "runtime/eval_data.h"
#include "runtime/fake_quant.h"
#include "runtime/perplexity.h"
#include "test_support.h"
#include "tokenize/llama2c_tokenizer.h"

#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>

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
        const auto model = loadLanguageModel(c, config);
        const std::vector<std::int64_t> ids = model->greedy({ 1 }, 60);
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
        const auto model = loadLanguageModel(c, config);
        const std::vector<std::int64_t> ids = loadEvalTokens(kText, c, config.vocabSize);
        QCOMPARE(ids.size(), std::size_t(3361));
        PerplexityOptions o;
        o.seqLen = 256;
        const PerplexityResult r = evaluatePerplexity(*model, ids, o, m_progress);
        QCOMPARE(r.tokens, std::int64_t(3360));
        QCOMPARE(r.windows, 14);
        qInfo("stories260K: perplexity %.4f, mean NLL %.4f", r.perplexity, r.meanNll);
        QVERIFY2(std::fabs(r.perplexity - 3.955) <= 0.01, qPrintable(QString::number(r.perplexity)));

        // fms-mo's block formula on the same data: 13 blocks of 256, 255 predictions each.
        o.protocol = PerplexityProtocol::Blocks;
        const PerplexityResult b = evaluatePerplexity(*model, ids, o, m_progress);
        QCOMPARE(b.windows, 13);
        QCOMPARE(b.tokens, std::int64_t(13 * 255));
        QVERIFY(b.perplexity > 3.5 && b.perplexity < 4.5);

        // int8 per-channel weights: less than 1% change; the comparison metrics make sense.
        o.protocol = PerplexityProtocol::Overlap;
        const auto int8 = loadLanguageModel(c, config, fakeQuantizeWeights(preset("nxd-int8"), {}));
        const PerplexityResult q = evaluatePerplexity(*int8, ids, o, m_progress, {}, model.get());
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
        const auto wq = loadLanguageModel(c, config, fakeQuantizeWeights(w8a8, kept));
        const PerplexityResult a
            = evaluatePerplexity(*wq, ids, o, m_progress, fakeQuantizeActivations(w8a8, kept), model.get());
        qInfo("W8A8: perplexity %.4f, KL %.3g, top-1 %.4f", a.perplexity, a.klDivergence, a.top1Agreement);
        QVERIFY(a.klDivergence > q.klDivergence); // activations add error
        QVERIFY(a.top1Agreement > 0.9);

        // Cancellation between windows.
        struct Cancelled final : Progress
        {
            void report(const ProgressUpdate&) override { }
            bool cancelled() const override { return true; }
        } cancelled;
        QVERIFY_THROWS_EXCEPTION(CancelledError, evaluatePerplexity(*model, ids, o, cancelled));
    }

    // Calibration on stories260K: every Linear input and the twelve named points per layer,
    // with statistics that agree with a direct computation.
    void calibrationCapturesEveryPoint()
    {
        const Checkpoint c = Checkpoint::open(kStories);
        CalibrationRequest request;
        request.data = kText;
        request.seqLen = 64;
        request.samples = 3;
        request.sampleRows = 100;
        const CalibrationResult r = calibrate(c, request, m_progress);
        QCOMPARE(r.windows, 3);
        QCOMPARE(r.tokens, std::int64_t(192));
        QCOMPARE(r.points.size(), std::size_t(5 * 7 + 1 + 5 * 12)); // Linear inputs, lm_head (tied), named points
        std::map<std::string, const ActivationStats*> byName;
        for (const auto& p : r.points)
            byName[p.point] = &p;
        for (int layer = 0; layer < 5; ++layer) {
            const std::string p = "model.layers." + std::to_string(layer) + ".";
            const ActivationStats* q = byName.at(p + "self_attn.q_proj");
            const ActivationStats* in = byName.at(p + "attention.input");
            QCOMPARE(q->absMax, byName.at(p + "self_attn.k_proj")->absMax); // one tensor feeds q, k and v
            QCOMPARE(q->mean, in->mean);
            QCOMPARE(byName.at(p + "mlp.down_proj")->channels, std::int64_t(172));
            const ActivationStats* probs = byName.at(p + "attention.probabilities");
            QCOMPARE(probs->channels, std::int64_t(0));
            QVERIFY(probs->globalMin >= 0 && probs->globalMax <= 1.0 + 1e-6);
            QCOMPARE(probs->tokens, std::int64_t(3 * 8 * 64 * 65 / 2)); // the causal triangle of 8 heads
        }
        for (const auto& p : r.points) {
            std::uint64_t inHistogram = p.histogram.below + p.histogram.above;
            for (auto n : p.histogram.counts)
                inHistogram += n;
            QCOMPARE(inHistogram, static_cast<std::uint64_t>(p.channels > 0 ? p.tokens * p.channels : p.tokens));
            if (p.channels == 0)
                continue;
            QCOMPARE(p.tokens, std::int64_t(192));
            QCOMPARE(p.tokenMax.size(), std::size_t(192));
            QCOMPARE(p.sampleRows, std::int64_t(100));
            for (std::int64_t ch = 0; ch < p.channels; ++ch) {
                QCOMPARE(p.absMax[ch], std::max(-p.min[ch], p.max[ch]));
                QVERIFY(p.min[ch] <= p.mean[ch] + 1e-6 && p.mean[ch] <= p.max[ch] + 1e-6);
                QVERIFY(p.sqMean[ch] + 1e-6 >= p.mean[ch] * p.mean[ch]);
            }
        }
        // Against a direct computation: the down_proj input of layer 2 in the first window.
        const ModelConfig config = modelConfigFromJson(c.config());
        const auto model = loadLanguageModel(c, config);
        const std::vector<std::int64_t> ids = loadEvalTokens(kText, c, 512);
        at::Tensor seen;
        model->forward(
            std::vector<std::int64_t>(ids.begin(), ids.begin() + 64), [&](const std::string& m, const at::Tensor& x) {
                if (m == "model.layers.2.mlp.down_proj")
                    seen = x.clone();
                return x;
            });
        const ActivationStats* down = byName.at("model.layers.2.mlp.down_proj");
        const std::vector<float> firstRow(down->sample.begin(), down->sample.begin() + 172);
        for (int ch = 0; ch < 172; ++ch)
            QCOMPARE(firstRow[ch], seen[0][ch].item<float>());
        QVERIFY(down->absMax[0] >= seen.select(1, 0).abs().max().item<float>());
    }

    // The histogram's range doubles as larger values arrive, without losing counts.
    void histogramRangeDoubles()
    {
        ActivationCapture capture({ 16, 100, 4 });
        capture.record("p", "test", at::full({ 10, 4 }, 0.5f));
        capture.record("p", "test", at::full({ 10, 4 }, -3.0f));
        capture.record("p", "test", at::full({ 2, 4 }, std::nanf("")));
        const ActivationStats s = capture.results().front();
        QVERIFY(s.histogram.hi >= 3.0 && s.histogram.lo <= -3.0);
        std::uint64_t total = 0;
        for (auto n : s.histogram.counts)
            total += n;
        QCOMPARE(total, std::uint64_t(80));
        QCOMPARE(s.histogram.nonFinite, std::uint64_t(8));
        QCOMPARE(s.tokens, std::int64_t(22));
        QCOMPARE(s.sampleRows, std::int64_t(4));
        QCOMPARE(s.min[0], -3.0f);
    }

    void configurationErrors()
    {
        nlohmann::json j = { { "model_type", "t5" } };
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

    void familyConfigs()
    {
        // Hugging Face GPT-2: n_inner null means 4 * n_embd, tanh GELU, Conv1D weights, tied head.
        nlohmann::json g = { { "model_type", "gpt2" }, { "vocab_size", 97 }, { "n_embd", 64 }, { "n_layer", 2 },
            { "n_head", 4 }, { "n_positions", 32 }, { "n_inner", nullptr }, { "bos_token_id", 50256 } };
        ModelConfig m = modelConfigFromJson(g);
        QVERIFY(m.family == ModelFamily::Gpt2 && m.causal() && m.conv1dWeights && m.tieEmbeddings);
        QCOMPARE(m.intermediate, std::int64_t(256));
        QCOMPARE(m.activation, std::string("gelu_new"));
        QCOMPARE(m.bosToken, 0); // 50256 is outside this vocabulary
        g["scale_attn_by_inverse_layer_idx"] = true;
        QVERIFY_THROWS_EXCEPTION(UsageError, modelConfigFromJson(g));
        g["scale_attn_by_inverse_layer_idx"] = false;
        g["n_head"] = 5;
        QVERIFY_THROWS_EXCEPTION(FormatError, modelConfigFromJson(g));
        g["n_head"] = 4;
        g["activation_function"] = "swiglu";
        QVERIFY_THROWS_EXCEPTION(UsageError, modelConfigFromJson(g));

        // karpathy nanoGPT model_args, and the ReaLLMASIC fork's defaults.
        nlohmann::json n = { { "model_type", "nanogpt" }, { "n_layer", 2 }, { "n_head", 4 }, { "n_embd", 64 },
            { "block_size", 32 }, { "bias", false }, { "vocab_size", 65 }, { "dropout", 0.0 } };
        m = modelConfigFromJson(n);
        QVERIFY(m.norm == NormKind::LayerNorm && !m.normBias && !m.separateQkv && !m.conv1dWeights);
        QCOMPARE(m.activation, std::string("gelu"));
        n["n_kv_group"] = 2;
        n["norm_variant_attn"] = "rmsnorm";
        m = modelConfigFromJson(n);
        QVERIFY(m.norm == NormKind::RmsNorm && m.finalNorm == NormKind::RmsNorm && m.separateQkv);
        QCOMPARE(m.kvHeads, std::int64_t(2));
        n["use_rotary_embeddings"] = true;
        QVERIFY_THROWS_EXCEPTION(UsageError, modelConfigFromJson(n));
        n["use_rotary_embeddings"] = false;
        n["attention_variant"] = "infinite";
        QVERIFY_THROWS_EXCEPTION(UsageError, modelConfigFromJson(n));
        n["attention_variant"] = "causal";
        n["n_kv_group"] = 3;
        QVERIFY_THROWS_EXCEPTION(FormatError, modelConfigFromJson(n));

        // BERT and RoBERTa: encoders; RoBERTa's positions start after padding_idx.
        nlohmann::json b = { { "model_type", "bert" }, { "vocab_size", 90 }, { "hidden_size", 32 },
            { "num_hidden_layers", 2 }, { "num_attention_heads", 4 }, { "intermediate_size", 64 },
            { "max_position_embeddings", 40 }, { "hidden_act", "gelu" }, { "type_vocab_size", 2 } };
        m = modelConfigFromJson(b);
        QVERIFY(m.family == ModelFamily::Bert && !m.causal());
        QCOMPARE(m.maxPositions, std::int64_t(40));
        QCOMPARE(m.normEps, 1e-12);
        b["model_type"] = "roberta";
        b["pad_token_id"] = 1;
        m = modelConfigFromJson(b);
        QCOMPARE(m.positionOffset, std::int64_t(2));
        QCOMPARE(m.maxPositions, std::int64_t(38));
        b["position_embedding_type"] = "relative_key";
        QVERIFY_THROWS_EXCEPTION(UsageError, modelConfigFromJson(b));
        b.erase("position_embedding_type");
        b.erase("intermediate_size");
        QVERIFY_THROWS_EXCEPTION(FormatError, modelConfigFromJson(b));
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
