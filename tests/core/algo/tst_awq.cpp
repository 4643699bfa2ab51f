// SPDX-License-Identifier: GPL-3.0-or-later
// AWQ as llm-compressor's AWQ transform computes it: the grid in each duo_scaling mode; the grid
// search (weight means, candidate scales, each candidate's parent-output loss and the winner)
// against a plain-PyTorch reference (tests/interop/reference_awq.py, Debian's python3-torch);
// the rescaled float model's logits equal the original's (the fold is exact before quantization,
// the v -> o and up -> down mappings included); on a generated model whose norms carry activation
// outlier channels AWQ beats round to nearest at int4; bad input fails before any work.
#include "algo/awq.h"
#include "error.h"
#include "generated_models.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "models/block.h"
#include "models/model_config.h"
#include "quant/quant_scheme.h"
#include "runtime/awq_calibration.h"
#include "runtime/block_runner.h"
#include "runtime/evaluation.h"
#include "runtime_support.h"
#include "test_support.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

using namespace qs;
using namespace qs::test;
namespace fs = std::filesystem;

namespace {

QuantScheme int4Groups(int groupSize, bool symmetric)
{
    QuantScheme s = *findSchemePreset("vllm-w4a16");
    s.groupSize = groupSize;
    s.symmetric = symmetric;
    s.validate();
    return s;
}

// Runs tests/interop/SCRIPT on the tensors (a safetensors file) and the cases (JSON) with Debian's
// python3-torch: its exit code and output (printed).
std::pair<int, QString> runReference(
    const char* script, const std::vector<test::RawTensor>& tensors, const nlohmann::json& cases)
{
    QTemporaryDir dir;
    const std::string file = dir.filePath("tensors.safetensors").toStdString();
    test::writeSafetensors(file, tensors);
    std::ofstream(dir.filePath("cases.json").toStdString()) << cases.dump();
    QProcess p;
    p.start(QStringLiteral(QS_PYTHON), { QStringLiteral(QS_TESTS_DIR "/interop/") + QString::fromLatin1(script),
                                           QString::fromStdString(file), dir.filePath("cases.json") });
    if (!p.waitForFinished(240000))
        return { -1, QStringLiteral("%1 did not finish").arg(QString::fromLatin1(script)) };
    const QString out = QString::fromUtf8(p.readAllStandardOutput()) + QString::fromUtf8(p.readAllStandardError());
    qInfo("%s", qPrintable(out.trimmed()));
    return { p.exitCode(), out };
}

} // namespace

class TestAwq : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    NullProgress m_progress;

    fs::path model(const std::string& name, const test::GeneratedModel& m)
    {
        return test::generatedModelIn(fs::path(m_dir.path().toStdString()) / name, m);
    }

    static test::GeneratedModel outlierModel(std::int64_t kvHeads)
    {
        test::GeneratedModel m("llama", 2);
        m.normOutliers = 25;
        m.kvHeads = kvHeads;
        return m;
    }

    EvaluationRequest request(const fs::path& path)
    {
        std::ofstream(path / "ids.json") << nlohmann::json(randomIds(160, 96, 5)).dump();
        std::ofstream(path / "calibration.json") << nlohmann::json(randomIds(256, 96, 9)).dump();
        EvaluationRequest r;
        r.data = path / "ids.json";
        r.seqLen = 32;
        r.calibrationData = path / "calibration.json";
        r.calibrationSamples = 8;
        r.scheme = int4Groups(16, false);
        return r;
    }

private Q_SLOTS:
    void gridAsLlmCompressor()
    {
        const std::vector<AwqCandidate> on = awqGrid(20, AwqDuoScaling::On);
        QCOMPARE(on.size(), std::size_t(20));
        QVERIFY(on[0].ratio == 0 && !on[0].duo); // the identity first
        QVERIFY(on[1].ratio == 0 && on[1].duo && on[19].ratio == 1 && on[19].duo);
        QCOMPARE(on[10].ratio, 9.0 / 18);
        const std::vector<AwqCandidate> off = awqGrid(20, AwqDuoScaling::Off);
        QVERIFY(off.size() == 20 && off[19].ratio == 1 && !off[5].duo);
        QCOMPARE(off[1].ratio, 1.0 / 19);
        const std::vector<AwqCandidate> both = awqGrid(20, AwqDuoScaling::Both);
        QCOMPARE(both.size(), std::size_t(20));
        QVERIFY(!both[0].duo && both[1].duo && both[2].ratio == 1.0 / 9 && both[19].ratio == 1);
        QVERIFY_THROWS_EXCEPTION(UsageError, awqGrid(1, AwqDuoScaling::Off));
        QVERIFY_THROWS_EXCEPTION(UsageError, awqDuoScalingFromName("sometimes"));
    }

    void searchMatchesTheReference()
    {
        at::manual_seed(5);
        at::Tensor x = at::randn({ 96, 128 });
        x.select(1, 3).mul_(20);
        x.select(1, 70).mul_(8);
        const at::Tensor w0 = at::randn({ 48, 128 }) * 0.05;
        const at::Tensor w1 = at::randn({ 80, 128 }) * 0.05;
        struct Case
        {
            std::string name;
            int layers, bits;
            bool symmetric;
            int groupSize;
            std::string duo;
            int nGrid;
        };
        const std::vector<Case> cases = { { "one_int4_g32_asym_duo", 1, 4, false, 32, "true", 20 },
            { "two_int4_g32_sym_duo", 2, 4, true, 32, "true", 20 },
            { "two_int4_channel_plain", 2, 4, true, 0, "false", 20 },
            { "one_int3_g64_both", 1, 3, false, 64, "both", 10 } };
        std::vector<test::RawTensor> tensors = { test::f32Tensor("x", shapeOf(x), values(x)),
            test::f32Tensor("w0", shapeOf(w0), values(w0)), test::f32Tensor("w1", shapeOf(w1), values(w1)) };
        nlohmann::json list = nlohmann::json::array();
        ChannelAbsMean mean;
        mean.add(x);
        for (const Case& c : cases) {
            QuantScheme s = int4Groups(c.groupSize > 0 ? c.groupSize : 128, c.symmetric);
            s.bits = c.bits;
            if (c.groupSize == 0) {
                s.granularity = Granularity::Channel;
                s.groupSize = 0;
            }
            s.validate();
            std::vector<at::Tensor> weights = { w0, w1 };
            weights.resize(static_cast<std::size_t>(c.layers));
            const at::Tensor reference = at::cat({ at::matmul(x, w0.t()), at::matmul(x, w1.t()) }, 1)
                                             .slice(1, 0, c.layers == 1 ? w0.size(0) : w0.size(0) + w1.size(0));
            const auto loss = [&](const std::vector<at::Tensor>& q) {
                std::vector<at::Tensor> outs;
                for (const at::Tensor& w : q)
                    outs.push_back(at::matmul(x, w.t()));
                return (at::cat(outs, 1) - reference).pow(2).sum().item<double>() / static_cast<double>(reference.numel());
            };
            const AwqSearchResult r
                = awqSearch(mean.mean(), weights, s, awqGrid(c.nGrid, awqDuoScalingFromName(c.duo)), loss);
            // What AWQ is for: the winner is not worse than the identity, and with outliers better.
            QVERIFY2(r.bestLoss < 0.95 * r.initialLoss, c.name.c_str());
            if (c.duo != "false")
                tensors.push_back(test::f32Tensor(c.name + ".w_mean", { 128 }, values(awqWeightMeans(weights, s))));
            tensors.push_back(test::f32Tensor(c.name + ".scales", { 128 }, values(r.scales)));
            const at::Tensor losses = at::tensor(r.losses, at::kDouble).to(at::kFloat);
            tensors.push_back(test::f32Tensor(c.name + ".losses", shapeOf(losses), values(losses)));
            list.push_back({ { "name", c.name }, { "layers", c.layers }, { "bits", c.bits }, { "symmetric", c.symmetric },
                { "group_size", c.groupSize }, { "duo_scaling", c.duo }, { "n_grid", c.nGrid } });
        }
        const auto [code, out] = runReference("reference_awq.py", tensors, list);
        QVERIFY2(code == 0 && out.contains(QStringLiteral("OK")), qPrintable(out));
    }

    // llm-awq's clip search equals a plain-PyTorch transcription of auto_clip_layer
    // (tests/interop/reference_awq_clip.py) per group and per channel, symmetric and affine.
    void clipMatchesTheReference()
    {
        struct Case
        {
            std::string name;
            bool symmetric;
            int groupSize;
        };
        const std::vector<Case> cases { { "sym_g32", true, 32 }, { "asym_channel", false, 0 } };
        at::manual_seed(3);
        std::vector<test::RawTensor> tensors;
        nlohmann::json list = nlohmann::json::array();
        for (const Case& c : cases) {
            at::Tensor w = at::randn({ 48, 128 }) * 0.02;
            w.index_put_({ at::indexing::Slice(), 7 }, w.index({ at::indexing::Slice(), 7 }) * 12); // outlier columns
            const at::Tensor x = at::randn({ 700, 128 }) * (1 + 4 * (at::arange(128) % 17 == 0).to(at::kFloat));
            QuantScheme s = *findSchemePreset("vllm-w4a16");
            s.symmetric = c.symmetric;
            s.granularity = c.groupSize > 0 ? Granularity::Group : Granularity::Channel;
            s.groupSize = c.groupSize;
            s.validate();
            const at::Tensor clipped = awqClip(w, x, s);
            QVERIFY(clipped.abs().le(w.abs() + 1e-12).all().item<bool>()); // only ever shrinks
            tensors.push_back(test::f32Tensor(c.name + ".w", { 48, 128 }, values(w)));
            tensors.push_back(test::f32Tensor(c.name + ".x", { 700, 128 }, values(x)));
            tensors.push_back(test::f32Tensor(c.name + ".clipped", { 48, 128 }, values(clipped)));
            list.push_back({ { "name", c.name }, { "bits", 4 }, { "symmetric", c.symmetric }, { "group_size", c.groupSize } });
        }
        QVERIFY_THROWS_EXCEPTION(UsageError, awqClip(at::ones({ 4, 8 }), at::ones({ 3, 8 }), *findSchemePreset("nxd-int8-tensor")));
        const auto [code, out] = runReference("reference_awq_clip.py", tensors, list);
        QVERIFY2(code == 0 && out.count(QStringLiteral("OK")) == 2, qPrintable(out));
    }

    // The rescaling alone (quantized variant left float) keeps the model's function; with full
    // attention (kv heads = heads) v -> o is applied too.
    void rescaledLlamaIsExact()
    {
        const fs::path path = model("llama_mha", outlierModel(4));
        const Checkpoint c = Checkpoint::open(path);
        const ModelConfig config = modelConfigFromJson(c.config());
        const std::unique_ptr<ModelBlocks> blocks = ModelBlocks::open(c, config);
        const auto evaluation = randomWindows(3, 24, 11);
        const std::vector<at::Tensor> original = blockLogits(*blocks, evaluation, {}, m_progress);

        BlockRunner runner(*blocks);
        const int floatWeights = runner.addWeights();
        const int other = runner.addWeights();
        const int calibration = runner.addSequences(randomWindows(4, 32, 3));
        const int set = runner.addSequences(evaluation);
        auto outcome = std::make_shared<AwqOutcome>();
        const QuantScheme scheme = int4Groups(16, false);
        RunnerStream awq { other, calibration, {}, -1, false, nullptr };
        awq.calibration = awqCalibration(floatWeights, {},
            [&](const std::string&) { return std::optional<QuantScheme>(scheme); },
            checkedAwqSettings(*blocks, {}), outcome, {});
        // The same search with every kept input in the unnamed file instead of memory.
        BlockRunner spilling(*blocks);
        const int floatWeights2 = spilling.addWeights();
        const int other2 = spilling.addWeights();
        auto spilled = std::make_shared<AwqOutcome>();
        AwqSettings tight;
        tight.keptMemory = 1;
        RunnerStream awq2 { other2, spilling.addSequences(randomWindows(4, 32, 3)), {}, -1, false, nullptr };
        awq2.calibration = awqCalibration(floatWeights2, {},
            [&](const std::string&) { return std::optional<QuantScheme>(scheme); },
            checkedAwqSettings(*blocks, tight), spilled, {});
        spilling.addStream(std::move(awq2));
        spilling.run(m_progress);
        runner.addStream(std::move(awq));
        runner.addStream({ other, set, {}, -1, true, nullptr });
        runner.run(m_progress);
        const std::vector<at::Tensor> rescaled = runnerLogits(runner, evaluation, config.vocabSize, m_progress);

        QCOMPARE(outcome->mappings.size(), std::size_t(4 * config.layers)); // q/k/v, o, gate/up, down
        QCOMPARE(outcome->mappings[1].smooth, std::string("model.layers.0.self_attn.v_proj"));
        QCOMPARE(outcome->mappings[0].parent, std::string("model.layers.0.self_attn"));
        QCOMPARE(outcome->mappings[2].parent, std::string("model.layers.0.mlp"));
        QCOMPARE(outcome->mappings[3].parent, std::string("model.layers.0.mlp.down_proj"));
        for (const AwqMappingReport& m : outcome->mappings)
            QVERIFY2(m.bestLoss <= m.initialLoss, m.smooth.c_str());
        QCOMPARE(spilled->mappings.size(), outcome->mappings.size());
        for (std::size_t i = 0; i < outcome->mappings.size(); ++i) {
            QCOMPARE(spilled->mappings[i].bestLoss, outcome->mappings[i].bestLoss);
            QCOMPARE(spilled->mappings[i].ratio, outcome->mappings[i].ratio);
        }
        for (std::size_t i = 0; i < evaluation.size(); ++i) {
            const double relative = relativeDifference(rescaled[i], original[i]);
            QVERIFY2(relative < 1e-4, qPrintable(QString("sequence %1: %2").arg(i).arg(relative)));
        }
    }

    // Grouped-query attention: v -> o does not fit and is skipped, as llm-compressor skips it.
    // On outlier channels AWQ keeps int4 weights closer to the float model than rounding does,
    // and GPTQ after it runs on the rescaled layers.
    void beatsRoundToNearest()
    {
        const fs::path path = model("llama_gqa", outlierModel(2));
        const Checkpoint c = Checkpoint::open(path);
        EvaluationRequest r = request(path);
        const EvaluationReport plain = evaluateCheckpoint(c, r, m_progress);
        r.awq = true;
        const EvaluationReport awq = evaluateCheckpoint(c, r, m_progress);
        qInfo("float %.5f; int4 g16 asym: RTN %.5f (KL %.3g), AWQ %.5f (KL %.3g)", plain.floatPerplexity,
            plain.perplexity, plain.klDivergence, awq.perplexity, awq.klDivergence);
        QCOMPARE(awq.algorithms, std::vector<std::string> { "awq" });
        QVERIFY(std::abs(awq.floatPerplexity - plain.floatPerplexity) < 1e-5 * plain.floatPerplexity);
        for (const char* m : { "model.layers.0.self_attn.q_proj", "model.layers.1.mlp.gate_proj" })
            qInfo("%s: own relative MSE %.3g with RTN, %.3g with AWQ", m, ownError(plain, m), ownError(awq, m));
        QVERIFY(awq.klDivergence < plain.klDivergence);
        // llm-awq's clip search after the scales keeps the layers' outputs closer still.
        r.awqClip = true;
        const EvaluationReport clipped = evaluateCheckpoint(c, r, m_progress);
        qInfo("AWQ with the clip search: %.5f (KL %.3g)", clipped.perplexity, clipped.klDivergence);
        QVERIFY(std::abs(clipped.floatPerplexity - plain.floatPerplexity) < 1e-5 * plain.floatPerplexity);
        QVERIFY(clipped.klDivergence < awq.klDivergence);
        r.gptq = true;
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluateCheckpoint(c, r, m_progress)); // GPTQ chooses its own codes
        r.awqClip = false;
        const EvaluationReport both = evaluateCheckpoint(c, r, m_progress);
        QCOMPARE(both.algorithms, (std::vector<std::string> { "awq", "gptq" }));
        qInfo("AWQ + GPTQ: %.5f (KL %.3g)", both.perplexity, both.klDivergence);
        QVERIFY(both.klDivergence < plain.klDivergence);
    }

    // stories260K (a real model on its own text), int4 per output channel: AWQ's perplexity is
    // below round to nearest's, and the clip search's below AWQ's.
    void storiesBelowRoundToNearest()
    {
        const fs::path stories = fs::path(QS_SHARED_MODELS_DIR) / "stories260K";
        if (!fs::exists(stories / "stories260K.bin"))
            QSKIP("../shared/models/stories260K is absent");
        const Checkpoint c = Checkpoint::open(stories / "stories260K.bin");
        EvaluationRequest r;
        r.data = stories / "tinystories_valid_sample10.txt";
        r.seqLen = 128;
        r.calibrationSamples = 8;
        QuantScheme s = *findSchemePreset("vllm-w4a16");
        s.granularity = Granularity::Channel;
        s.groupSize = 0;
        s.validate();
        r.scheme = s;
        const EvaluationReport rtn = evaluateCheckpoint(c, r, m_progress);
        r.awq = true;
        const EvaluationReport awq = evaluateCheckpoint(c, r, m_progress);
        r.awqClip = true;
        const EvaluationReport clipped = evaluateCheckpoint(c, r, m_progress);
        qInfo("stories260K int4 per channel: float %.4f, RTN %.4f, AWQ %.4f, AWQ with the clip search %.4f",
            rtn.floatPerplexity, rtn.perplexity, awq.perplexity, clipped.perplexity);
        QVERIFY(awq.perplexity < rtn.perplexity);
        QVERIFY(clipped.perplexity < awq.perplexity);
    }

    void badInputFailsBeforeAnyWork()
    {
        const fs::path path = model("llama_gqa", outlierModel(2));
        const Checkpoint c = Checkpoint::open(path);
        const ModelConfig config = modelConfigFromJson(c.config());
        const std::unique_ptr<ModelBlocks> blocks = ModelBlocks::open(c, config);
        AwqSettings s;
        s.mappings = { { { "re:.*q_proj$" }, "re:.*no_such_norm$" } };
        try {
            checkedAwqSettings(*blocks, s);
            QFAIL("a mapping that matches no module was accepted");
        } catch (const UsageError& e) {
            QVERIFY2(e.reason().find("no_such_norm") != std::string::npos, e.what());
        }
        s.mappings = { { { "re:.*w_nothing$" }, "re:.*input_layernorm$" } };
        QVERIFY_THROWS_EXCEPTION(UsageError, checkedAwqSettings(*blocks, s));
        EvaluationRequest r = request(path);
        r.awq = true;
        r.scheme = *findSchemePreset("vllm-w8a8-int8"); // quantized activations: not AWQ's
        try {
            evaluateCheckpoint(c, r, m_progress);
            QFAIL("AWQ with quantized activations was accepted");
        } catch (const UsageError& e) {
            QVERIFY2(e.reason().find("weight-only") != std::string::npos, e.what());
        }
        r.scheme = int4Groups(16, false);
        r.smoothQuant = 0.5;
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluateCheckpoint(c, r, m_progress));
        r.smoothQuant.reset();
        r.awqGrid = 1;
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluateCheckpoint(c, r, m_progress));
    }
};

QTEST_GUILESS_MAIN(TestAwq)
#include "tst_awq.moc"
