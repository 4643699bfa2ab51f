// SPDX-License-Identifier: GPL-3.0-or-later
// SmoothQuant as llm-compressor computes it: the scales against a numpy computation of the
// formula (tests/interop/reference_smoothquant.py, Debian's python3-numpy); the smoothed float
// model's logits equal the original's (the transform is exact before quantization) for the Llama
// and GPT-2 families; on a generated model whose norms have activation outlier channels,
// SmoothQuant before static per-tensor int8 activations beats the same scheme without it; and
// mappings that match nothing, a post-norm model or an alpha outside [0, 1] fail before any work.
#include "algo/smoothquant.h"
#include "error.h"
#include "generated_models.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "models/block.h"
#include "models/model_config.h"
#include "quant/quant_scheme.h"
#include "runtime/block_runner.h"
#include "runtime/evaluation.h"
#include "runtime/smoothquant_calibration.h"
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

} // namespace

class TestSmoothQuant : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    NullProgress m_progress;

    fs::path model(const std::string& name, const test::GeneratedModel& m)
    {
        return test::generatedModelIn(fs::path(m_dir.path().toStdString()) / name, m);
    }

    static test::GeneratedModel outlierModel(const std::string& family)
    {
        test::GeneratedModel m(family, 2);
        m.normOutliers = 25;
        return m;
    }

    // The smoothed float model against the original: the same logits.
    void checkExact(const fs::path& path, std::size_t smoothedPerLayer)
    {
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
        auto outcome = std::make_shared<SmoothQuantOutcome>();
        SmoothQuantSettings settings;
        settings.alpha = 0.8;
        RunnerStream smooth { other, calibration, {}, -1, false, nullptr };
        smooth.calibration
            = smoothQuantCalibration(floatWeights, {}, checkedSmoothQuantSettings(*blocks, settings), outcome);
        runner.addStream(std::move(smooth));
        runner.addStream({ other, set, {}, -1, true, nullptr });
        runner.run(m_progress);
        const std::vector<at::Tensor> smoothed = runnerLogits(runner, evaluation, config.vocabSize, m_progress);

        QCOMPARE(outcome->scales.size(), std::size_t(2 * config.layers));
        QCOMPARE(outcome->smoothOf.size(), smoothedPerLayer * std::size_t(config.layers));
        for (const auto& [norm, s] : outcome->scales) {
            // Not a transform that does nothing: the outlier channels get far larger factors.
            QVERIFY2(s.max().item<float>() > 3 * s.median().item<float>(), norm.c_str());
        }
        for (std::size_t i = 0; i < evaluation.size(); ++i) {
            const double relative = relativeDifference(smoothed[i], original[i]);
            QVERIFY2(relative < 1e-4, qPrintable(QString("sequence %1: %2").arg(i).arg(relative)));
        }
    }

    EvaluationRequest staticRequest(const fs::path& path)
    {
        std::ofstream(path / "ids.json") << nlohmann::json(randomIds(160, 96, 5)).dump();
        std::ofstream(path / "calibration.json") << nlohmann::json(randomIds(256, 96, 9)).dump();
        EvaluationRequest request;
        request.data = path / "ids.json";
        request.seqLen = 32;
        request.calibrationData = path / "calibration.json";
        request.calibrationSamples = 8;
        request.scheme = *findSchemePreset("vllm-w8a8-int8");
        request.activations = "int8-tensor-static";
        return request;
    }

private Q_SLOTS:
    void scalesMatchNumpy()
    {
        at::manual_seed(21);
        at::Tensor x = at::randn({ 300, 64 });
        x.select(1, 7).mul_(40); // an outlier channel
        x.select(1, 9).fill_(0.5); // a constant channel: A = 0
        std::vector<at::Tensor> weights = { at::randn({ 48, 64 }) * 0.05, at::randn({ 16, 64 }) * 0.05,
            at::randn({ 16, 64 }) * 0.05 };
        for (at::Tensor& w : weights)
            w.select(1, 20).zero_(); // W = 0: s = A
        ChannelRange range;
        for (std::int64_t begin = 0; begin < x.size(0); begin += 70)
            range.add(x.slice(0, begin, std::min<std::int64_t>(begin + 70, x.size(0))).to(at::kBFloat16).to(at::kFloat));
        std::vector<test::RawTensor> tensors;
        const at::Tensor seen = x.to(at::kBFloat16).to(at::kFloat);
        tensors.push_back(test::f32Tensor("inputs", shapeOf(seen), values(seen)));
        tensors.push_back(test::f32Tensor("minimum", shapeOf(range.minimum()), values(range.minimum())));
        tensors.push_back(test::f32Tensor("maximum", shapeOf(range.maximum()), values(range.maximum())));
        for (std::size_t i = 0; i < weights.size(); ++i)
            tensors.push_back(test::f32Tensor("balance." + std::to_string(i), shapeOf(weights[i]), values(weights[i])));
        for (const char* alpha : { "0.5", "0.65", "0.8" }) {
            const at::Tensor s = smoothQuantScales(range.maximum() - range.minimum(), weights, std::stod(alpha));
            QCOMPARE(s[9].item<float>(), 1e-5F); // the floor
            tensors.push_back(test::f32Tensor(std::string("scales.") + alpha, shapeOf(s), values(s)));
        }
        QTemporaryDir dir;
        const std::string file = dir.filePath("smoothquant.safetensors").toStdString();
        test::writeSafetensors(file, tensors);
        QProcess p;
        p.start(QStringLiteral(QS_PYTHON),
            { QStringLiteral(QS_TESTS_DIR "/interop/reference_smoothquant.py"), QString::fromStdString(file) });
        QVERIFY(p.waitForFinished(120000));
        const QString out = QString::fromUtf8(p.readAllStandardOutput()) + QString::fromUtf8(p.readAllStandardError());
        qInfo("%s", qPrintable(out.trimmed()));
        QVERIFY2(p.exitCode() == 0 && out.contains(QStringLiteral("OK")), qPrintable(out));
        QVERIFY_THROWS_EXCEPTION(UsageError, smoothQuantScales(range.maximum(), { at::ones({ 4, 5 }) }, 0.5));
    }

    void targetsMatchAsLlmCompressor()
    {
        QVERIFY(smoothQuantTargetMatches("re:.*q_proj", "model.layers.0.self_attn.q_proj"));
        QVERIFY(smoothQuantTargetMatches("re:.*input_layernorm", "model.layers.0.input_layernorm"));
        QVERIFY(!smoothQuantTargetMatches("re:q_proj", "model.layers.0.self_attn.q_proj")); // re.match: from the start
        QVERIFY(smoothQuantTargetMatches("model.layers.0.mlp.up_proj", "model.layers.0.mlp.up_proj"));
        QVERIFY(!smoothQuantTargetMatches("up_proj", "model.layers.0.mlp.up_proj"));
        QVERIFY_THROWS_EXCEPTION(UsageError, smoothQuantTargetMatches("re:(", "x"));
    }

    void smoothedLlamaIsExact() { checkExact(model("llama", outlierModel("llama")), 5); }
    void smoothedGpt2IsExact() { checkExact(model("gpt2", outlierModel("gpt2")), 2); }

    // Activation outliers ruin static per-tensor int8 activations; SmoothQuant moves them into the
    // weights (per-channel int8 absorbs them).
    void beatsStaticActivationsWithoutIt()
    {
        const fs::path path = model("llama_outliers", outlierModel("llama"));
        const Checkpoint c = Checkpoint::open(path);
        EvaluationRequest request = staticRequest(path);
        const EvaluationReport plain = evaluateCheckpoint(c, request, m_progress);
        request.smoothQuant = 0.5;
        const EvaluationReport smoothed = evaluateCheckpoint(c, request, m_progress);
        qInfo("float %.5f; int8 static per-tensor activations: %.5f (KL %.3g), with SmoothQuant %.5f (KL %.3g)",
            plain.floatPerplexity, plain.perplexity, plain.klDivergence, smoothed.perplexity, smoothed.klDivergence);
        QCOMPARE(smoothed.algorithms, std::vector<std::string> { "smoothquant" });
        QCOMPARE(smoothed.smoothedNorms, 4);
        QCOMPARE(smoothed.smoothedModules, 10);
        QVERIFY(std::abs(smoothed.floatPerplexity - plain.floatPerplexity) < 1e-5 * plain.floatPerplexity);
        // The attention input's module error falls most.
        for (const char* m : { "model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj",
                 "model.layers.1.self_attn.k_proj", "model.layers.1.mlp.gate_proj" })
            qInfo("%s: own relative MSE %.3g without, %.3g with SmoothQuant", m, ownError(plain, m), ownError(smoothed, m));
        QVERIFY(ownError(smoothed, "model.layers.0.self_attn.q_proj") < 0.5 * ownError(plain, "model.layers.0.self_attn.q_proj"));
        QVERIFY(smoothed.klDivergence < 0.9 * plain.klDivergence);

        // Then GPTQ on the smoothed model, as the llm-compressor W8A8 recipe runs them.
        request.gptq = true;
        request.smoothQuant = 0.8;
        const EvaluationReport both = evaluateCheckpoint(c, request, m_progress);
        QCOMPARE(both.algorithms, (std::vector<std::string> { "smoothquant", "gptq" }));
        QCOMPARE(both.gptqLoss.size(), std::size_t(14));
        QVERIFY(both.klDivergence < plain.klDivergence);
    }

    // With an fms-mo scheme the evaluation simulates what the AIU export writes: k/v/gate/up
    // quantized as W * s with their input divided by s (not folded into the norms).
    void fmsMoSmoothQuantAsTheAiuRunsIt()
    {
        const fs::path path = model("llama_outliers", outlierModel("llama"));
        const Checkpoint c = Checkpoint::open(path);
        EvaluationRequest request = staticRequest(path);
        request.scheme = *findSchemePreset("aiu-int8");
        request.activations.clear(); // its per-token dynamic activations
        const EvaluationReport plain = evaluateCheckpoint(c, request, m_progress);
        request.smoothQuant = 0.65;
        const EvaluationReport smoothed = evaluateCheckpoint(c, request, m_progress);
        QCOMPARE(smoothed.algorithms, std::vector<std::string> { "smoothquant" });
        QCOMPARE(smoothed.smoothedNorms, 0);
        QCOMPARE(smoothed.smoothedModules, 8); // k, v, gate, up of both layers
        QVERIFY(std::abs(smoothed.floatPerplexity - plain.floatPerplexity) < 1e-5 * plain.floatPerplexity);
        // The input is divided by the same s the weight was multiplied by: the module's error stays
        // a quantization error (a missing division would be off by the factors, far above 1e-2).
        for (const char* m : { "model.layers.0.self_attn.k_proj", "model.layers.1.mlp.up_proj" }) {
            qInfo("%s: own relative MSE %.3g without, %.3g with fms-mo SmoothQuant", m, ownError(plain, m), ownError(smoothed, m));
            QVERIFY(ownError(smoothed, m) > 0 && ownError(smoothed, m) < 1e-2);
            QVERIFY(ownError(smoothed, m) != ownError(plain, m));
        }
        // q_proj is not in fms-mo's list: unchanged.
        QCOMPARE(ownError(smoothed, "model.layers.0.self_attn.q_proj"), ownError(plain, "model.layers.0.self_attn.q_proj"));
        request.gptq = true;
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluateCheckpoint(c, request, m_progress));
    }

    void badMappingsFailBeforeAnyWork()
    {
        const fs::path path = model("llama_outliers", outlierModel("llama"));
        const Checkpoint c = Checkpoint::open(path);
        const ModelConfig config = modelConfigFromJson(c.config());
        const std::unique_ptr<ModelBlocks> blocks = ModelBlocks::open(c, config);
        SmoothQuantSettings s;
        s.mappings = { { { "re:.*q_proj" }, "re:.*no_such_norm" } };
        try {
            checkedSmoothQuantSettings(*blocks, s);
            QFAIL("a mapping that matches no norm was accepted");
        } catch (const UsageError& e) {
            QVERIFY2(e.reason().find("no_such_norm") != std::string::npos, e.what());
        }
        s.mappings = { { { "re:.*w_nothing" }, "re:.*input_layernorm" } };
        QVERIFY_THROWS_EXCEPTION(UsageError, checkedSmoothQuantSettings(*blocks, s));
        s.mappings.clear();
        s.alpha = 1.5;
        QVERIFY_THROWS_EXCEPTION(UsageError, checkedSmoothQuantSettings(*blocks, s));
        s.alpha = 0.5;
        QCOMPARE(checkedSmoothQuantSettings(*blocks, s).mappings.size(), std::size_t(2));

        EvaluationRequest request = staticRequest(path);
        request.smoothQuant = 0.5;
        request.smoothQuantMappings = { { { "re:.*q_proj" }, "re:.*no_such_norm" } };
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluateCheckpoint(c, request, m_progress));

        // BERT is post-norm: nothing to fold the scales into.
        const fs::path bert = model("bert", test::GeneratedModel("bert", 2));
        const Checkpoint b = Checkpoint::open(bert);
        const std::unique_ptr<ModelBlocks> bertBlocks = ModelBlocks::open(b, modelConfigFromJson(b.config()));
        try {
            checkedSmoothQuantSettings(*bertBlocks, {});
            QFAIL("SmoothQuant accepted a post-norm model");
        } catch (const UsageError& e) {
            QVERIFY2(e.reason().find("post-norm") != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestSmoothQuant)
#include "tst_smoothquant.moc"
