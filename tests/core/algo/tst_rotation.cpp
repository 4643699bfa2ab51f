// SPDX-License-Identifier: GPL-3.0-or-later
// Rotations: Hadamard matrices of power-of-two and Paley orders (H H^T = n I, entries +-1), the
// randomised and random orthogonal rotations (R R^T = I, the same for a seed), the rotated Llama
// model's logits equal the original's (norms folded, R1 on the residual stream, R2 per head), the
// rotation spreads activation outliers before per-token int8 activations, and what it cannot
// rotate is refused before any work.
#include "algo/hadamard.h"
#include "error.h"
#include "export/exporter.h"
#include "model/module_tree.h"
#include "generated_models.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "models/block.h"
#include "models/model_config.h"
#include "quant/calibrated_tensors.h"
#include "quant/quant_scheme.h"
#include "runtime/block_runner.h"
#include "runtime/evaluation.h"
#include "runtime/calibrated_export.h"
#include "runtime/rotation.h"
#include "runtime_support.h"
#include "test_support.h"

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

double orthogonalityError(const at::Tensor& r)
{
    return (at::matmul(r.to(at::kDouble), r.to(at::kDouble).t()) - at::eye(r.size(0), at::kDouble))
        .abs()
        .max()
        .item<double>();
}

} // namespace

class TestRotation : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    NullProgress m_progress;

    fs::path model(const std::string& name, const test::GeneratedModel& m)
    {
        return test::generatedModelIn(fs::path(m_dir.path().toStdString()) / name, m);
    }

    // A generated Llama model whose norms carry outlier channels, and a request on 160 random ids.
    EvaluationRequest outlierRequest(const std::string& name)
    {
        test::GeneratedModel m("llama", 2);
        m.normOutliers = 25;
        const fs::path path = model(name, m);
        std::ofstream(path / "ids.json") << nlohmann::json(randomIds(160, 96, 5)).dump();
        EvaluationRequest request;
        request.data = path / "ids.json";
        request.seqLen = 32;
        return request;
    }

private Q_SLOTS:
    void hadamardOrders()
    {
        for (std::int64_t n : { 1, 2, 4, 8, 12, 20, 24, 40, 44, 48, 64, 80, 96, 160, 176, 5120 / 16 }) {
            const at::Tensor h = hadamardMatrix(n);
            QVERIFY2(h.defined(), qPrintable(QString::number(n)));
            QVERIFY(at::equal(h.abs(), at::ones_like(h)));
            QVERIFY2(at::allclose(at::matmul(h, h.t()), at::eye(n) * static_cast<double>(n)),
                qPrintable(QString::number(n)));
        }
        // No Hadamard of these orders from this construction (28 = 27 + 1, 27 not a prime; 172).
        QVERIFY(!hadamardMatrix(28).defined());
        QVERIFY(!hadamardMatrix(172).defined());
        QVERIFY(!hadamardMatrix(6).defined());
    }

    void rotationsAreOrthogonalAndSeeded()
    {
        for (std::int64_t n : { 64, 20, 28, 176 }) {
            for (RotationKind kind : { RotationKind::Hadamard, RotationKind::Random }) {
                const at::Tensor r = rotationMatrix(n, kind, 3);
                QVERIFY2(orthogonalityError(r) < 1e-5, qPrintable(QString::number(n)));
                QVERIFY(at::equal(r, rotationMatrix(n, kind, 3)));
                QVERIFY(!at::equal(r, rotationMatrix(n, kind, 4)));
            }
        }
        // A randomised Hadamard's entries are +-1/sqrt(n); the fallback's are not.
        const at::Tensor h = rotationMatrix(64, RotationKind::Hadamard, 0);
        QVERIFY(at::allclose(h.abs(), at::full_like(h, 0.125)));
        QVERIFY(!at::allclose(rotationMatrix(28, RotationKind::Hadamard, 0).abs(), at::full_like(at::eye(28), 1 / std::sqrt(28.0))));
        QVERIFY_THROWS_EXCEPTION(UsageError, rotationKindFromName("spin"));
    }

    // The fast transform (a b x b product per group, then the butterflies) is the matrix product.
    void fastTransformIsTheProduct()
    {
        at::manual_seed(2);
        for (std::int64_t n : { 64, 20, 176, 48, 28 }) {
            const Rotation r = Rotation::make(n, RotationKind::Hadamard, 9);
            QCOMPARE(r.isHadamard(), n != 28);
            const at::Tensor x = at::randn({ 3, 5, n });
            const at::Tensor m = r.matrix();
            QVERIFY2(at::allclose(r.right(x), at::matmul(x, m), 1e-5, 1e-5), qPrintable(QString::number(n)));
            QVERIFY2(at::allclose(r.rightTransposed(x), at::matmul(x, m.t()), 1e-5, 1e-5), qPrintable(QString::number(n)));
            QVERIFY(at::allclose(r.rightTransposed(r.right(x)), x, 1e-5, 1e-5)); // orthogonal
        }
        QVERIFY_THROWS_EXCEPTION(UsageError, Rotation::make(64, RotationKind::Hadamard, 0).right(at::ones({ 2, 32 })));
    }

    void rotatedLlamaIsExact()
    {
        test::GeneratedModel m("llama", 2);
        m.normOutliers = 25;
        const fs::path path = model("llama", m);
        const Checkpoint c = Checkpoint::open(path);
        const ModelConfig config = modelConfigFromJson(c.config());
        std::vector<std::vector<std::int64_t>> sequences = { randomIds(24, 96, 1), randomIds(17, 96, 2) };
        const std::vector<at::Tensor> original
            = blockLogits(*ModelBlocks::open(c, config), sequences, {}, m_progress);
        for (RotationKind kind : { RotationKind::Hadamard, RotationKind::Random }) {
            CalibratedTensors out;
            RotationSettings s;
            s.kind = kind;
            s.seed = 7;
            const RotationReport r = rotateCheckpoint(c, s, out, m_progress);
            QCOMPARE(r.foldedNorms, 2 * 2 + 1);
            QCOMPARE(r.rotatedTensors, 2 + 2 * 9 + 1);
            QCOMPARE(QString::fromStdString(r.r1), kind == RotationKind::Hadamard ? QStringLiteral("hadamard 64")
                                                                                   : QStringLiteral("random 64"));
            const Checkpoint rotated = out.apply(c);
            // Not the identity: the weights did change.
            QVERIFY(!at::allclose(rotated.loadFloat("model.layers.0.self_attn.q_proj.weight"),
                c.loadFloat("model.layers.0.self_attn.q_proj.weight")));
            QVERIFY(at::equal(rotated.loadFloat("model.norm.weight"), at::ones({ config.hidden })));
            const std::vector<at::Tensor> logits
                = blockLogits(*ModelBlocks::open(rotated, config), sequences, {}, m_progress);
            for (std::size_t i = 0; i < sequences.size(); ++i) {
                const double relative = relativeDifference(logits[i], original[i]);
                QVERIFY2(relative < 1e-4, qPrintable(QString("sequence %1: %2").arg(i).arg(relative)));
            }
        }
    }

    // The norms' outlier channels become outlier weight columns once folded; the rotation spreads
    // them over every channel, so that per-token int8 activations and per-channel int8 weights of
    // the rotated model stay closer to the float model.
    void spreadsOutliers()
    {
        EvaluationRequest request = outlierRequest("llama_outliers");
        const Checkpoint c = Checkpoint::open(request.data.parent_path());
        QuantScheme w4a8 = *findSchemePreset("vllm-w8a8-int8");
        w4a8.bits = 4;
        w4a8.validate();
        request.scheme = w4a8;
        const EvaluationReport plain = evaluateCheckpoint(c, request, m_progress);
        request.rotation = "hadamard";
        const EvaluationReport rotated = evaluateCheckpoint(c, request, m_progress);
        qInfo("float %.5f; int4 channel weights, int8 token activations: %.5f (KL %.3g), rotated %.5f (KL %.3g)",
            plain.floatPerplexity, plain.perplexity, plain.klDivergence, rotated.perplexity, rotated.klDivergence);
        QCOMPARE(rotated.algorithms, std::vector<std::string> { "rotation" });
        QCOMPARE(QString::fromStdString(rotated.rotation), QStringLiteral("R1 hadamard 64, R2 hadamard 16"));
        QVERIFY(std::abs(rotated.floatPerplexity - plain.floatPerplexity) < 1e-4 * plain.floatPerplexity);
        QVERIFY(rotated.klDivergence < plain.klDivergence);
    }

    // W4A4 as QuaRot evaluates it (int4 weights per channel, int4 activations per token): the
    // rotation, and the online Hadamard on the down projection's input on top, keep the model
    // closer to the float one; the online rotation alone keeps the float model's function.
    void w4a4WithOnlineHadamard()
    {
        EvaluationRequest request = outlierRequest("llama_w4a4");
        const Checkpoint c = Checkpoint::open(request.data.parent_path());
        const EvaluationReport unrotated = evaluateCheckpoint(c, request, m_progress);
        request.rotation = "hadamard";
        request.rotationOnline = true;
        const EvaluationReport floatOnline = evaluateCheckpoint(c, request, m_progress);
        QVERIFY(std::abs(floatOnline.floatPerplexity - unrotated.floatPerplexity) < 1e-4 * unrotated.floatPerplexity);
        QuantScheme w4a4 = *findSchemePreset("vllm-w8a8-int8");
        w4a4.bits = 4;
        w4a4.activations = "int4-token-dynamic";
        w4a4.validate();
        request.scheme = w4a4;
        request.rotation.clear();
        request.rotationOnline = false;
        const EvaluationReport plain = evaluateCheckpoint(c, request, m_progress);
        request.rotation = "hadamard";
        const EvaluationReport rotated = evaluateCheckpoint(c, request, m_progress);
        request.rotationOnline = true;
        const EvaluationReport online = evaluateCheckpoint(c, request, m_progress);
        qInfo("W4A4: KL %.3g plain, %.3g rotated (R1, R2), %.3g with the online Hadamard (R4)", plain.klDivergence,
            rotated.klDivergence, online.klDivergence);
        QCOMPARE(QString::fromStdString(online.rotation),
            QStringLiteral("R1 hadamard 64, R2 hadamard 16, online R4 hadamard 176"));
        QVERIFY(rotated.klDivergence < plain.klDivergence);
        QVERIFY(online.klDivergence < plain.klDivergence);
        // No checkpoint format carries int4 activations or the online rotation.
        ExportOptions options;
        options.scheme = w4a4;
        QVERIFY_THROWS_EXCEPTION(UsageError, makeExporter(ExportFormat::CompressedTensors, options));
        QVERIFY_THROWS_EXCEPTION(UsageError, makeExporter(ExportFormat::Nxd, options));
        ExportCalibrationRequest exportRequest;
        exportRequest.algorithms.rotation = "hadamard";
        exportRequest.algorithms.rotationOnline = true;
        ConversionOptions conversion;
        conversion.destination = fs::path(m_dir.path().toStdString()) / "never";
        const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
        QVERIFY_THROWS_EXCEPTION(UsageError, exportWithAlgorithms(c, tree, conversion, exportRequest, m_progress));
        QVERIFY(!fs::exists(conversion.destination));
    }

    // A model whose head is its input embedding: the rotation gives it its own head, evaluation
    // keeps the float perplexity, and the export (NxD int8) writes lm_head.weight and a config.json
    // that no longer ties it, so that the exported model's perplexity stays the source's.
    void tiedModelGetsItsOwnHead()
    {
        test::GeneratedModel m("llama", 2);
        m.tied = true;
        m.normOutliers = 25;
        const fs::path path = model("llama_tied", m);
        std::ofstream(path / "ids.json") << nlohmann::json(randomIds(160, 96, 5)).dump();
        const Checkpoint c = Checkpoint::open(path);
        QVERIFY(modelConfigFromJson(c.config()).tieEmbeddings);
        CalibratedTensors refused;
        QVERIFY_THROWS_EXCEPTION(UsageError, rotateCheckpoint(c, {}, refused, m_progress));
        EvaluationRequest request;
        request.data = path / "ids.json";
        request.seqLen = 32;
        const EvaluationReport plain = evaluateCheckpoint(c, request, m_progress);
        request.rotation = "hadamard";
        const EvaluationReport rotated = evaluateCheckpoint(c, request, m_progress);
        QVERIFY(std::abs(rotated.floatPerplexity - plain.floatPerplexity) < 1e-4 * plain.floatPerplexity);

        ExportCalibrationRequest exportRequest;
        exportRequest.algorithms.rotation = "hadamard";
        ConversionOptions conversion;
        conversion.destination = fs::path(m_dir.path().toStdString()) / "tied_rotated";
        conversion.format = ExportFormat::Nxd;
        const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
        const CalibratedExport result = exportWithAlgorithms(c, tree, conversion, exportRequest, m_progress);
        QVERIFY(result.rotation && result.rotation->untied);
        const Checkpoint exported = Checkpoint::open(conversion.destination);
        QVERIFY(exported.find("lm_head.weight"));
        QCOMPARE(exported.config().value("tie_word_embeddings", true), false);
        EvaluationRequest again = request;
        again.rotation.clear();
        const EvaluationReport back = evaluateCheckpoint(exported, again, m_progress);
        qInfo("tied: float perplexity %.4f, rotated %.4f, exported rotated int8 %.4f", plain.floatPerplexity,
            rotated.floatPerplexity, back.floatPerplexity);
        QVERIFY(std::abs(back.floatPerplexity - plain.floatPerplexity) < 0.02 * plain.floatPerplexity);
    }

    void refusesWhatItCannotRotate()
    {
        const Checkpoint gpt2 = Checkpoint::open(model("gpt2", { "gpt2", 1 }));
        CalibratedTensors out;
        try {
            rotateCheckpoint(gpt2, {}, out, m_progress);
            QFAIL("a GPT-2 model was rotated");
        } catch (const UsageError& e) {
            QVERIFY2(std::string(e.what()).find("Llama family") != std::string::npos, e.what());
        }
        QCOMPARE(out.replacedCount(), std::size_t(0));
    }
};

QTEST_GUILESS_MAIN(TestRotation)
#include "tst_rotation.moc"
