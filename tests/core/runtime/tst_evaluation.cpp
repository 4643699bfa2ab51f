// SPDX-License-Identifier: GPL-3.0-or-later
// Evaluation beyond the forward pass: masked-LM scoring (every position masked and scored
// exactly once, special tokens skipped) on a scripted encoder, protocol and model mismatches,
// static per-tensor activation quantization (the hook's arithmetic, the calibrated ranges, and
// the whole evaluation on stories260K from ../shared/models), and the exporters' refusal of
// static activations they cannot write yet.
#include "error.h"
#include "export/compressed_tensors_exporter.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "models/language_model.h"
#include "quant/quant_scheme.h"
#include "runtime/evaluation.h"
#include "runtime/fake_quant.h"
#include "runtime/perplexity.h"

#include <QTest>

#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>

using namespace qs;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = QS_SHARED_MODELS_DIR;
const fs::path kStories = kModels / "stories260K" / "stories260K.bin";
const fs::path kText = kModels / "stories260K" / "tinystories_valid_sample10.txt";

constexpr std::int64_t kVocab = 16;
constexpr std::int64_t kMask = 15;

// An "encoder" whose logits are scripted: at a masked position p it puts 3.0 on the token after
// the one at p - 1 ((input[p - 1] + 1) % vocab), elsewhere all logits are 0. A test knows from the
// data alone which scored tokens it "predicts", so scoring the wrong position, the wrong target or
// an unmasked row changes the NLL. Records its inputs.
class ScriptedEncoder final : public LanguageModel
{
public:
    explicit ScriptedEncoder(bool causal = false)
    {
        m_config.modelType = causal ? "llama" : "bert";
        m_config.family = causal ? ModelFamily::Llama : ModelFamily::Bert;
        m_config.vocabSize = kVocab;
        m_config.maxPositions = 512;
    }
    const ModelConfig& config() const override { return m_config; }
    at::Tensor forward(const std::vector<std::int64_t>& tokens, const LinearInputHook&,
        const ActivationObserver&) const override
    {
        checkTokens(tokens);
        inputs.push_back(tokens);
        at::Tensor logits = at::zeros({ static_cast<std::int64_t>(tokens.size()), kVocab });
        for (std::size_t p = 1; p < tokens.size(); ++p) {
            if (tokens[p] == kMask)
                logits[static_cast<std::int64_t>(p)][(tokens[p - 1] + 1) % kVocab] = 3.0;
        }
        return logits;
    }
    mutable std::vector<std::vector<std::int64_t>> inputs;

private:
    ModelConfig m_config;
};

// The NLL the scripted encoder gives a scored token.
double scriptedNll(bool predicted)
{
    const double z = std::exp(3.0) + (kVocab - 1);
    return predicted ? -std::log(std::exp(3.0) / z) : -std::log(1.0 / z);
}

QuantScheme preset(const char* name)
{
    return *findSchemePreset(name);
}

} // namespace

class TestEvaluation : public QObject
{
    Q_OBJECT

    NullProgress m_progress;

private Q_SLOTS:
    void maskedScoringMasksEveryPositionOnce()
    {
        // One window of 20 tokens; id 1 stands for [CLS] and 2 for [SEP], never scored.
        std::vector<std::int64_t> data { 1 };
        for (int i = 0; i < 18; ++i)
            data.push_back(3 + (i * 5) % 11);
        data.push_back(2);
        ScriptedEncoder model;
        PerplexityOptions o;
        o.protocol = PerplexityProtocol::Masked;
        o.seqLen = 20;
        o.maskToken = kMask;
        o.maskEvery = 4;
        o.unscored = { 1, 2 };
        const PerplexityResult r = evaluatePerplexity(model, data, o, m_progress);
        QCOMPARE(r.tokens, std::int64_t(18));
        QCOMPARE(r.windows, 1);
        QCOMPARE(model.inputs.size(), std::size_t(4)); // one pass per residue
        QCOMPARE(r.forwardTokens, std::int64_t(4 * 20));
        std::vector<int> maskedTimes(data.size(), 0);
        for (std::size_t pass = 0; pass < model.inputs.size(); ++pass) {
            const auto& in = model.inputs[pass];
            for (std::size_t p = 0; p < in.size(); ++p) {
                if (in[p] == kMask) {
                    QCOMPARE(static_cast<int>(p % 4), static_cast<int>(pass));
                    ++maskedTimes[p];
                } else {
                    QCOMPARE(in[p], data[p]);
                }
            }
        }
        QCOMPARE(maskedTimes.front(), 0);
        QCOMPARE(maskedTimes.back(), 0);
        for (std::size_t p = 1; p + 1 < data.size(); ++p)
            QCOMPARE(maskedTimes[p], 1);
        double nll = 0;
        for (std::size_t p = 1; p + 1 < data.size(); ++p)
            nll += scriptedNll(data[p] == (data[p - 1] + 1) % kVocab);
        QVERIFY(std::fabs(r.meanNll - nll / 18) < 1e-6);
        QVERIFY(std::fabs(r.perplexity - std::exp(nll / 18)) < 1e-5);

        // Against itself as the reference: no divergence, full agreement.
        const PerplexityResult same = evaluatePerplexity(model, data, o, m_progress, {}, &model);
        QVERIFY(std::fabs(same.klDivergence) < 1e-9);
        QCOMPARE(same.top1Agreement, 1.0);
        QCOMPARE(same.referencePerplexity, same.perplexity);
    }

    // Windows of a longer stream, each between the sequence markers: targets are the data's own
    // tokens at their absolute positions.
    void maskedScoringWindows()
    {
        // 45 tokens, mostly runs of +1 so that the scripted encoder predicts about half of them.
        std::vector<std::int64_t> data;
        for (int i = 0; i < 45; ++i)
            data.push_back(3 + (i % 5 == 0 ? (i * 7) % 11 : i % 11));
        ScriptedEncoder model;
        PerplexityOptions o;
        o.protocol = PerplexityProtocol::Masked;
        o.seqLen = 16;
        o.maskToken = kMask;
        o.maskEvery = 3;
        o.windowPrefix = { 1 };
        o.windowSuffix = { 2 };
        const PerplexityResult r = evaluatePerplexity(model, data, o, m_progress);
        QCOMPARE(r.windows, 3); // 16 + 16 + 13
        QCOMPARE(r.tokens, std::int64_t(45));
        QCOMPARE(model.inputs.size(), std::size_t(3 * 3));
        QCOMPARE(model.inputs.front().size(), std::size_t(18));
        QCOMPARE(model.inputs.back().size(), std::size_t(15));
        for (const auto& in : model.inputs) {
            QCOMPARE(in.front(), std::int64_t(1));
            QCOMPARE(in.back(), std::int64_t(2));
        }
        double nll = 0;
        for (std::size_t i = 0; i < data.size(); ++i) {
            const std::int64_t previous = i % 16 == 0 ? 1 : data[i - 1]; // a window starts after [CLS]
            nll += scriptedNll(data[i] == (previous + 1) % kVocab);
        }
        QVERIFY2(std::fabs(r.meanNll - nll / 45) < 1e-6, qPrintable(QString::number(r.meanNll)));
        o.maxWindows = 2;
        QCOMPARE(evaluatePerplexity(model, data, o, m_progress).tokens, std::int64_t(32));
        // Markers the data already has at a window's ends are not doubled.
        std::vector<std::int64_t> marked { 1, 5, 6, 7, 2 };
        model.inputs.clear();
        o.seqLen = 5;
        o.unscored = { 1, 2 };
        QCOMPARE(evaluatePerplexity(model, marked, o, m_progress).tokens, std::int64_t(3));
        QCOMPARE(model.inputs.front().size(), std::size_t(5));
        // The markers count against the positions.
        o.seqLen = 511;
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluatePerplexity(model, data, o, m_progress));
    }

    void protocolsMustFitTheModel()
    {
        const std::vector<std::int64_t> data(40, 4);
        ScriptedEncoder encoder;
        ScriptedEncoder decoder(true);
        PerplexityOptions o;
        o.seqLen = 8;
        o.maskToken = kMask;
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluatePerplexity(encoder, data, o, m_progress)); // overlap
        o.protocol = PerplexityProtocol::Blocks;
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluatePerplexity(encoder, data, o, m_progress));
        o.protocol = PerplexityProtocol::Masked;
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluatePerplexity(decoder, data, o, m_progress));
        o.maskToken = -1;
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluatePerplexity(encoder, data, o, m_progress));
        o.maskToken = kVocab; // outside the vocabulary
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluatePerplexity(encoder, data, o, m_progress));
        o.maskToken = kMask;
        o.unscored = { 4 }; // nothing left to score
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluatePerplexity(encoder, data, o, m_progress));
        QCOMPARE(perplexityProtocolFromName("masked"), PerplexityProtocol::Masked);
        QCOMPARE(std::string(perplexityProtocolName(PerplexityProtocol::Blocks)), std::string("blocks"));
        QVERIFY_THROWS_EXCEPTION(UsageError, perplexityProtocolFromName("sliding"));
    }

    // The static hook's arithmetic: one scale per module from the calibrated abs-max.
    void staticActivationArithmetic()
    {
        const at::Tensor x = at::tensor({ -2.5F, -2.0F, -0.013F, 0.3F, 1.0F, 2.0F, 5.0F }).reshape({ 1, 7 });
        const ActivationRanges ranges { { "m", 2.0F } };
        QuantScheme s = preset("vllm-w8a8-int8");
        s.activations = "int8-tensor-static";
        const at::Tensor ct = fakeQuantizeActivations(s, {}, ranges)("m", x);
        const float scale = 2.0F / 127.5F;
        const at::Tensor expected = at::clamp(at::round(x / scale), -128, 127) * scale;
        QVERIFY(at::equal(ct, expected));
        QCOMPARE(ct[0][6].item<float>(), 127 * scale); // clipped
        QCOMPARE(ct[0][0].item<float>(), -128 * scale);
        s = preset("aiu-int8");
        s.activations = "int8-tensor-static";
        const at::Tensor fms = fakeQuantizeActivations(s, {}, ranges)("m", x);
        QCOMPARE(fms[0][0].item<float>(), -2.0F); // [-127, 127] * 2/127
        QCOMPARE(fms[0][6].item<float>(), 2.0F);
        s = preset("vllm-fp8-dynamic");
        s.activations = "fp8-tensor-static";
        const LinearInputHook fp8 = fakeQuantizeActivations(s, { "kept", "cls.predictions.decoder" }, ranges);
        const at::Tensor f = fp8("m", x);
        QCOMPARE(f[0][6].item<float>(), 2.0F); // saturated at 448 * scale
        QCOMPARE(f[0][5].item<float>(), 2.0F);
        QCOMPARE(f[0][4].item<float>(), 1.0F); // 224: exact in e4m3
        QVERIFY(std::fabs(f[0][3].item<float>() - 0.3F) < 0.3F / 16); // 3 mantissa bits
        QVERIFY(at::equal(fp8("kept", x), x)); // kept modules and lm_head stay float
        QVERIFY(at::equal(fp8("lm_head", x), x));
        QVERIFY(at::equal(fp8("cls.predictions.decoder", x), x)); // another head, passed by the caller
        QVERIFY_THROWS_EXCEPTION(UsageError, fp8("uncalibrated", x));
        s.activations = "int2-token-dynamic";
        QVERIFY_THROWS_EXCEPTION(UsageError, s.validate());
        QVERIFY_THROWS_EXCEPTION(UsageError, fakeQuantizeActivations(s, {}));
        // W4A4's activations: per token absmax / 7, codes -8..7 (16 values at most per row).
        s = preset("vllm-w8a8-int8");
        s.activations = "int4-token-dynamic";
        s.validate();
        const at::Tensor y = fakeQuantizeActivations(s, {})("m", at::randn({ 4, 64 }));
        QVERIFY(std::get<0>(at::_unique(y[0])).numel() <= 16);
        QVERIFY(!fakeQuantizeActivations(preset("nxd-int8"), {})); // weights only
    }

    void exportersRefuseStaticActivations()
    {
        ExportOptions options;
        options.scheme = preset("vllm-w8a8-int8");
        options.scheme.activations = "int8-tensor-static";
        QVERIFY_THROWS_EXCEPTION(UsageError, CompressedTensorsExporter { options });
    }

    void staticActivationsOnStories()
    {
        if (!fs::exists(kStories) || !fs::exists(kText))
            QSKIP("../shared/models/stories260K is absent: the evaluation checks need the real model");
        const Checkpoint c = Checkpoint::open(kStories);
        EvaluationRequest request;
        request.data = kText;
        request.seqLen = 128;
        request.maxWindows = 8;
        request.scheme = preset("nxd-int8");
        const EvaluationReport weights = evaluateCheckpoint(c, request, m_progress);
        QCOMPARE(weights.protocol, std::string("overlap"));
        QCOMPARE(weights.activations, std::string("none"));
        QCOMPARE(weights.calibrationWindows, 0);
        request.activations = "int8-tensor-static";
        request.calibrationSamples = 4;
        const EvaluationReport a8 = evaluateCheckpoint(c, request, m_progress);
        qInfo("stories260K int8 weights %.4f (KL %.3g); + static int8 activations %.4f (KL %.3g); float %.4f",
            weights.perplexity, weights.klDivergence, a8.perplexity, a8.klDivergence, a8.floatPerplexity);
        QCOMPARE(a8.calibrationWindows, 4);
        QCOMPARE(a8.activations, std::string("int8-tensor-static"));
        QCOMPARE(a8.floatPerplexity, weights.floatPerplexity);
        QCOMPARE(a8.tokens, std::int64_t(8 * 128));
        QVERIFY(a8.klDivergence > weights.klDivergence); // activations add error
        QVERIFY(std::fabs(a8.perplexity / a8.floatPerplexity - 1) < 0.05);
        QVERIFY(a8.top1Agreement > 0.85);
        request.activations = "fp8-tensor-static";
        const EvaluationReport f8 = evaluateCheckpoint(c, request, m_progress);
        QVERIFY(f8.klDivergence > weights.klDivergence);
        QVERIFY(std::fabs(f8.perplexity / f8.floatPerplexity - 1) < 0.05);
        request.protocol = "masked";
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluateCheckpoint(c, request, m_progress));
    }

    // The calibrated ranges are the abs-max of each Linear's input over the windows.
    void measuredRangesCoverEveryLinear()
    {
        if (!fs::exists(kStories))
            QSKIP("../shared/models/stories260K is absent");
        const Checkpoint c = Checkpoint::open(kStories);
        const auto model = loadLanguageModel(c, modelConfigFromJson(c.config()));
        std::vector<std::vector<std::int64_t>> windows { { 1, 403, 407, 261, 378 }, { 1, 40, 41, 42 } };
        const ActivationRanges r = measureActivationRanges(*model, windows, m_progress);
        QCOMPARE(r.size(), std::size_t(5 * 7 + 1)); // q k v o gate up down per layer, and the tied lm_head
        float direct = 0;
        for (const auto& w : windows) {
            model->forward(w, [&](const std::string& m, const at::Tensor& x) {
                if (m == "model.layers.3.mlp.down_proj")
                    direct = std::max(direct, x.abs().max().item<float>());
                return x;
            });
        }
        QCOMPARE(r.at("model.layers.3.mlp.down_proj"), direct);
        for (const auto& [module, range] : r)
            QVERIFY2(range > 0, module.c_str());
    }
};

QTEST_GUILESS_MAIN(TestEvaluation)
#include "tst_evaluation.moc"
