// SPDX-License-Identifier: GPL-3.0-or-later
// SpinQuant: the Cayley step keeps a rotation orthogonal and descends (it finds a target rotation);
// the learned R1 and R2 lower the quantized model's loss from the Hadamard start, leave the float
// model's logits unchanged once fused, and do not move where nothing is quantized (the float loss
// does not depend on the rotation); W4A4 evaluation with SpinQuant is no worse than with the
// Hadamard rotation it starts from; what it cannot learn is refused before any work, with the
// memory it would need named; cancellation stops it.
#include "algo/cayley.h"
#include "algo/hadamard.h"
#include "error.h"
#include "generated_models.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "models/block.h"
#include "models/model_config.h"
#include "quant/calibrated_tensors.h"
#include "quant/quant_scheme.h"
#include "runtime/block_runner.h"
#include "runtime/evaluation.h"
#include "runtime/rotation.h"
#include "runtime/spinquant.h"
#include "runtime_support.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace qs;
using namespace qs::test;
namespace fs = std::filesystem;

namespace {

const fs::path kStories = fs::path(QS_SHARED_MODELS_DIR) / "stories260K" / "stories260K.bin";
const fs::path kText = fs::path(QS_SHARED_MODELS_DIR) / "stories260K" / "tinystories_valid_sample10.txt";

double orthogonalityError(const at::Tensor& r)
{
    const at::Tensor d = r.to(at::kDouble);
    return (at::matmul(d, d.t()) - at::eye(d.size(0), at::kDouble)).abs().max().item<double>();
}

QuantScheme w4a4()
{
    QuantScheme s = *findSchemePreset("vllm-w8a8-int8");
    s.bits = 4;
    s.activations = "int4-token-dynamic";
    s.validate();
    return s;
}

// Cancels at the first report.
class CancelAtFirstReport final : public Progress
{
public:
    void report(const ProgressUpdate&) override { m_cancelled = true; }
    bool cancelled() const override { return m_cancelled; }

private:
    bool m_cancelled = false;
};

} // namespace

class TestSpinQuant : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    NullProgress m_progress;

    fs::path outlierModel(const std::string& name)
    {
        test::GeneratedModel m("llama", 2);
        m.normOutliers = 25;
        const fs::path path = test::generatedModelIn(fs::path(m_dir.path().toStdString()) / name, m);
        std::ofstream(path / "ids.json") << nlohmann::json(randomIds(160, 96, 5)).dump();
        return path;
    }

    static SpinQuantSettings settings(int steps)
    {
        SpinQuantSettings s;
        s.steps = steps;
        s.scheme = w4a4();
        s.seed = 3;
        return s;
    }

private Q_SLOTS:
    // The update of the fork's CayleySGD with SpinQuant's step bound, written out here: stays
    // orthogonal, and repeated steps on f(R) = |R - T|^2 / 2 reach the target rotation T.
    void cayleyStepDescends()
    {
        // A target in the start's component of the orthogonal group (a Cayley step never leaves it).
        at::Tensor r = rotationMatrix(16, RotationKind::Random, 2).to(at::kDouble);
        at::manual_seed(1);
        const at::Tensor g = at::randn({ 16, 16 }, at::kDouble);
        const at::Tensor skew = (g - g.t()) * 0.5;
        const at::Tensor eye16 = at::eye(16, at::kDouble);
        const at::Tensor target = at::matmul(at::inverse(eye16 + skew), at::matmul(eye16 - skew, r));
        const double start = (r - target).norm().item<double>();
        for (int i = 0; i < 200; ++i) {
            const at::Tensor g = r - target;
            const CayleyStep s = cayleyStep(r, g, 0.5);
            const at::Tensor a = at::matmul(g, r.t()) - at::matmul(r, g.t());
            const double bound = 1 / (a.abs().sum(0).max().item<double>() + 1e-8);
            QVERIFY(std::abs(s.step - std::min(0.5, bound)) < 1e-12);
            const at::Tensor eye = at::eye(16, at::kDouble);
            const at::Tensor expected = at::matmul(at::inverse(eye + a * (s.step / 2)), at::matmul(eye - a * (s.step / 2), r));
            QVERIFY(at::allclose(s.rotation, expected, 1e-9, 1e-9));
            r = s.rotation;
            QVERIFY(orthogonalityError(r) < 1e-6); // the float32 start is orthogonal to 1e-7
        }
        const double end = (r - target).norm().item<double>();
        qInfo("|R - T|: %.3f -> %.2g", start, end);
        QVERIFY(end < 1e-3 * start);
        QVERIFY_THROWS_EXCEPTION(UsageError, cayleyStep(r, at::zeros({ 16, 8 }, at::kDouble), 1));
        QVERIFY_THROWS_EXCEPTION(UsageError, cayleyStep(r, at::zeros_like(r), 0));
    }

    // W4A4 on the outlier model: the learned rotations lower the quantized loss on the calibration
    // samples, stay orthogonal, and fused into the float model leave its logits unchanged.
    void learningLowersTheQuantizedLoss()
    {
        const fs::path path = outlierModel("learn");
        const Checkpoint c = Checkpoint::open(path);
        const ModelConfig config = modelConfigFromJson(c.config());
        const std::vector<std::vector<std::int64_t>> samples = randomWindows(4, 32, 11, 96);
        SpinQuantReport report;
        SpinQuantSettings s = settings(12);
        s.batch = 4; // every sample in every step: descent on one objective, not a noisy one
        s.lr = 0.05;
        const LearnedRotations learned = learnRotations(c, samples, s, m_progress, report);
        qInfo("loss %.4f -> %.4f; per step %s", report.initialLoss, report.finalLoss,
            nlohmann::json(report.losses).dump().c_str());
        QCOMPARE(report.losses.size(), std::size_t(12));
        QCOMPARE(report.batch, 4);
        QVERIFY(!report.keptStart);
        QCOMPARE(report.tokens, std::int64_t(4 * 32));
        QVERIFY(report.weightsQuantized);
        QCOMPARE(report.activations, std::string("int4-token-dynamic"));
        QVERIFY(report.finalLoss < report.initialLoss);
        QCOMPARE(learned.r2.size(), std::size_t(2));
        QVERIFY(orthogonalityError(learned.r1) < 1e-5);
        QVERIFY(orthogonalityError(learned.r2[1]) < 1e-5);
        const at::Tensor start = rotationMatrix(64, RotationKind::Hadamard, 3);
        QVERIFY((learned.r1 - start).abs().max().item<double>() > 1e-3); // it moved

        CalibratedTensors out;
        RotationSettings fuse;
        fuse.learned = std::make_shared<const LearnedRotations>(learned);
        const RotationReport r = rotateCheckpoint(c, fuse, out, m_progress);
        QCOMPARE(QString::fromStdString(r.r1), QStringLiteral("learned 64"));
        QCOMPARE(QString::fromStdString(r.r2), QStringLiteral("learned 16 per layer"));
        const std::vector<std::vector<std::int64_t>> sequences = { randomIds(24, 96, 1) };
        const std::vector<at::Tensor> original = blockLogits(*ModelBlocks::open(c, config), sequences, {}, m_progress);
        const std::vector<at::Tensor> rotated
            = blockLogits(*ModelBlocks::open(out.apply(c), config), sequences, {}, m_progress);
        QVERIFY(relativeDifference(rotated[0], original[0]) < 1e-4);
    }

    // Without quantization the loss does not depend on the rotation: its gradient has no component
    // along the orthogonal group, and R stays where it started.
    void floatLossLeavesTheRotation()
    {
        const Checkpoint c = Checkpoint::open(outlierModel("float"));
        SpinQuantSettings s = settings(3);
        s.scheme.reset();
        SpinQuantReport report;
        const LearnedRotations learned = learnRotations(c, randomWindows(2, 16, 4, 96), s, m_progress, report);
        const double moved = (learned.r1 - rotationMatrix(64, RotationKind::Hadamard, 3)).abs().max().item<double>();
        qInfo("float: R1 moved by %.2g, loss %.6f -> %.6f", moved, report.initialLoss, report.finalLoss);
        QVERIFY(moved < 1e-4);
        QVERIFY(std::abs(report.finalLoss - report.initialLoss) < 1e-4);
        QCOMPARE(report.activations, std::string("none"));
    }

    // stories260K (a real model on its own text; tied embeddings, untied by the rotation) at W4A4,
    // int4 channel weights and int4 token activations, with the online Hadamard on the down
    // projection's input as QuaRot and SpinQuant quantize activations: the Hadamard rotation is
    // below no rotation, SpinQuant learned from it below the Hadamard start, its training loss falls,
    // and the float model keeps its perplexity through all of it.
    void w4a4OnStories()
    {
        if (!fs::exists(kStories))
            QSKIP("../shared/models/stories260K is absent");
        const Checkpoint c = Checkpoint::open(kStories);
        EvaluationRequest request;
        request.data = kText;
        request.seqLen = 128;
        request.scheme = w4a4();
        request.calibrationSamples = 8;
        const EvaluationReport plain = evaluateCheckpoint(c, request, m_progress);
        request.rotation = "hadamard";
        request.rotationOnline = true;
        const EvaluationReport hadamard = evaluateCheckpoint(c, request, m_progress);
        request.spinQuant = true;
        request.spinQuantSteps = 16;
        request.spinQuantLr = 0.3; // 1.5 (the fork's) overshoots at this model's width
        const EvaluationReport learned = evaluateCheckpoint(c, request, m_progress);
        qInfo("stories260K W4A4: perplexity %.4f (KL %.4f) plain, %.4f (KL %.4f) Hadamard, %.4f (KL %.4f) SpinQuant "
              "(loss %.4f -> %.4f in %d steps); float %.4f",
            plain.perplexity, plain.klDivergence, hadamard.perplexity, hadamard.klDivergence, learned.perplexity,
            learned.klDivergence, learned.spinQuant->initialLoss, learned.spinQuant->finalLoss,
            learned.spinQuant->steps, plain.floatPerplexity);
        QCOMPARE(learned.algorithms.front(), std::string("spinquant"));
        QCOMPARE(learned.spinQuant->samples, 8);
        QCOMPARE(QString::fromStdString(learned.rotation),
            QStringLiteral("R1 learned 64, R2 learned 8 per layer, online R4 random 172"));
        QVERIFY(learned.spinQuant->finalLoss < learned.spinQuant->initialLoss);
        for (const EvaluationReport* r : { &hadamard, &learned })
            QVERIFY(std::abs(r->floatPerplexity - plain.floatPerplexity) < 1e-4 * plain.floatPerplexity);
        QVERIFY(hadamard.perplexity < plain.perplexity);
        QVERIFY(learned.perplexity <= hadamard.perplexity);
    }

    void refusesWhatItCannotLearn()
    {
        const Checkpoint c = Checkpoint::open(outlierModel("refused"));
        const auto samples = randomWindows(2, 16, 4, 96);
        SpinQuantReport report;
        auto refused = [&](const SpinQuantSettings& s, const Checkpoint& checkpoint,
                           const std::vector<std::vector<std::int64_t>>& data, const char* expected) {
            try {
                learnRotations(checkpoint, data, s, m_progress, report);
                QFAIL(qPrintable(QString("learned: expected a refusal with '%1'").arg(expected)));
            } catch (const UsageError& e) {
                QVERIFY2(std::string(e.what()).find(expected) != std::string::npos, e.what());
            }
        };
        SpinQuantSettings tiny = settings(1);
        tiny.maxMemory = 1 << 20;
        refused(tiny, c, samples, "needs about");
        SpinQuantSettings staticScales = settings(1);
        staticScales.scheme->activations = "int8-tensor-static";
        refused(staticScales, c, samples, "dynamic activation");
        refused(settings(1), c, {}, "calibration samples");
        const Checkpoint gpt2
            = Checkpoint::open(test::generatedModelIn(fs::path(m_dir.path().toStdString()) / "gpt2", { "gpt2", 1 }));
        refused(settings(1), gpt2, samples, "Llama family");
        CancelAtFirstReport cancel;
        QVERIFY_THROWS_EXCEPTION(CancelledError, learnRotations(c, samples, settings(5), cancel, report));
    }
};

QTEST_GUILESS_MAIN(TestSpinQuant)
#include "tst_spinquant.moc"
