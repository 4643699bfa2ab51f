// SPDX-License-Identifier: GPL-3.0-or-later
// The block runner: its logits equal the resident whole-model forward for every family (with
// hidden states spilled to disk and the head in several chunks), evaluation on it gives the
// same perplexities, the per-block divergence is exactly zero when every module is kept and
// grows with depth at 2 bits, cancellation stops inside a block, a missing tensor fails when its
// block loads, a memory limit too small names the block, and generation with a KV cache (resident
// or streamed) equals decoding without one. Plus the spill store and the chunked scorer.
#include "error.h"
#include "generated_models.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "models/block.h"
#include "models/language_model.h"
#include "models/model_config.h"
#include "quant/quant_scheme.h"
#include "runtime/block_runner.h"
#include "runtime/chunked_scorer.h"
#include "runtime/evaluation.h"
#include "runtime/generation.h"
#include "runtime/hidden_states.h"
#include "runtime/eval_data.h"
#include "runtime/perplexity.h"
#include "runtime_support.h"

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

const fs::path kModels = QS_SHARED_MODELS_DIR;
const fs::path kStories = kModels / "stories260K" / "stories260K.bin";
const fs::path kText = kModels / "stories260K" / "tinystories_valid_sample10.txt";

// Records what was reported and cancels once `cancelAt` is the block being run and the hook has
// been called `afterCalls` times in it.
class RecordingProgress final : public Progress
{
public:
    void report(const ProgressUpdate& u) override
    {
        current = u.current;
        reported.push_back(u.current);
    }
    bool cancelled() const override { return cancel.load(); }
    std::string current;
    std::vector<std::string> reported;
    std::atomic<bool> cancel { false };
};

QuantScheme preset(const char* name)
{
    return *findSchemePreset(name);
}

void writeIds(const fs::path& file, const std::vector<std::int64_t>& ids)
{
    std::ofstream(file) << nlohmann::json(ids).dump();
}

} // namespace

class TestBlockRunner : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    NullProgress m_progress;

    fs::path model(const std::string& name, const test::GeneratedModel& m)
    {
        return test::generatedModelIn(fs::path(m_dir.path().toStdString()) / name, m);
    }

    // Block-runner logits against the resident forward, on three sequences of different lengths,
    // with every hidden state spilled and a head chunk of a few rows.
    void compareLogits(const fs::path& path)
    {
        const Checkpoint c = Checkpoint::open(path);
        const ModelConfig config = modelConfigFromJson(c.config());
        const auto resident = loadLanguageModel(c, config);
        const std::vector<std::vector<std::int64_t>> sequences = { randomIds(17, config.vocabSize, 1),
            randomIds(5, config.vocabSize, 2), randomIds(33, config.vocabSize, 3) };
        BlockRunOptions options;
        options.hiddenMemory = 1; // everything in the temporary file
        options.headChunkBytes = static_cast<std::uint64_t>(config.hidden) * sizeof(float) * 7; // 7 rows a chunk
        const auto blocks = ModelBlocks::open(c, config);
        const std::vector<at::Tensor> streamed = blockLogits(*blocks, sequences, options, m_progress);
        for (std::size_t i = 0; i < sequences.size(); ++i) {
            const at::Tensor whole = resident->forward(sequences[i]);
            QCOMPARE(streamed[i].sizes(), whole.sizes());
            const double d = relativeDifference(streamed[i], whole);
            if (d > 1e-5)
                QFAIL(qPrintable(QString("%1, sequence %2: relative difference %3")
                                     .arg(QString::fromStdString(path.string()))
                                     .arg(i)
                                     .arg(d)));
        }
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void logitsEqualTheWholeModelForward()
    {
        compareLogits(model("llama", { "llama", 3 }));
        test::GeneratedModel bf16 { "llama", 2 };
        bf16.bf16 = true;
        compareLogits(model("llama-bf16", bf16));
        compareLogits(model("gpt2", { "gpt2", 3 }));
        compareLogits(model("bert", { "bert", 2 }));
        if (fs::exists(kStories))
            compareLogits(kStories);
    }

    void spillStoreRoundTrips()
    {
        HiddenStates states({ 3, 4, 5 }, 8, 3 * 8 * sizeof(float), m_dir.path().toStdString());
        QCOMPARE(states.memoryBytes(), std::uint64_t(3 * 8 * 4));
        QCOMPARE(states.spilledBytes(), std::uint64_t(9 * 8 * 4));
        std::vector<at::Tensor> written;
        for (std::size_t s = 0; s < 3; ++s) {
            written.push_back(at::randn({ static_cast<std::int64_t>(3 + s), 8 }));
            states.put(s, written.back());
        }
        for (std::size_t s = 0; s < 3; ++s)
            QVERIFY(at::equal(states.get(s), written[s]));
        QVERIFY_THROWS_EXCEPTION(UsageError, states.put(1, at::zeros({ 3, 8 })));
    }

    void chunkedScoresEqualWholeLogSoftmax()
    {
        const at::Tensor model = at::randn({ 6, 50 }) * 3;
        const at::Tensor reference = model + at::randn({ 6, 50 });
        const std::vector<std::int64_t> targets = { 0, 49, 7, 21, 22, 30 };
        PerplexitySums whole;
        ScoredPass pass;
        pass.targets = targets;
        whole.add(pass, model, reference);
        PerplexityResult a;
        a.compared = true;
        whole.finish(a);
        ChunkedScorer scorer(targets, true);
        for (std::int64_t begin : { 40, 0, 13, 27 }) { // any order
            const std::int64_t end = begin == 40 ? 50 : begin == 0 ? 13 : begin == 13 ? 27 : 40;
            scorer.add(begin, model.slice(1, begin, end).contiguous(), reference.slice(1, begin, end).contiguous());
        }
        PerplexitySums chunked;
        chunked.addChunked(pass, scorer.nll(), scorer.referenceNll(), scorer.kl(), scorer.agreements());
        PerplexityResult b;
        b.compared = true;
        chunked.finish(b);
        QVERIFY(std::abs(a.perplexity - b.perplexity) < 1e-5 * a.perplexity);
        QVERIFY(std::abs(a.referencePerplexity - b.referencePerplexity) < 1e-5 * a.referencePerplexity);
        QVERIFY(std::abs(a.klDivergence - b.klDivergence) < 1e-5 * a.klDivergence);
        QCOMPARE(a.top1Agreement, b.top1Agreement);
    }

    void perplexityUnchangedOnStories()
    {
        if (!fs::exists(kStories))
            QSKIP("../shared/models/stories260K is absent");
        const Checkpoint c = Checkpoint::open(kStories);
        const ModelConfig config = modelConfigFromJson(c.config());
        const auto resident = loadLanguageModel(c, config);
        EvaluationRequest request;
        request.data = kText;
        request.maxWindows = 3;
        request.seqLen = 128;
        const EvaluationReport streamed = evaluateCheckpoint(c, request, m_progress);
        PerplexityOptions o;
        o.seqLen = 128;
        o.maxWindows = 3;
        const std::vector<std::int64_t> ids = loadEvalTokens(kText, c, config.vocabSize);
        const PerplexityResult r = evaluatePerplexity(*resident, ids, o, m_progress);
        QVERIFY2(std::abs(streamed.floatPerplexity - r.perplexity) < 1e-5 * r.perplexity,
            qPrintable(QString("%1 vs %2").arg(streamed.floatPerplexity).arg(r.perplexity)));
        QCOMPARE(streamed.tokens, r.tokens);
        QVERIFY(streamed.peakRssBytes > 0 && streamed.maxMemory > 0);

        // With a scheme: the float side equals the plain run; the comparison as the resident one.
        request.scheme = preset("vllm-w8a8-int8");
        const EvaluationReport q = evaluateCheckpoint(c, request, m_progress);
        QVERIFY(std::abs(q.floatPerplexity - r.perplexity) < 1e-5 * r.perplexity);
        QCOMPARE(q.blocks.size(), std::size_t(config.layers));
        QCOMPARE(q.modules.size(), std::size_t(config.layers * 7));
        QVERIFY(q.klDivergence > 0 && q.top1Agreement > 0.5);
    }

    // GPTQ on the block runner, as llm-compressor's sequential pipeline: calibrated on the last
    // stories of the sample, evaluated on the first ones, int4 GPTQ beats int4 rounding.
    void gptqBeatsRoundingOnStories()
    {
        if (!fs::exists(kStories))
            QSKIP("../shared/models/stories260K is absent");
        std::ifstream in(kText);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::size_t half = text.size() / 2;
        const fs::path dir = m_dir.path().toStdString();
        std::ofstream(dir / "eval.txt") << text.substr(0, half);
        std::ofstream(dir / "calibration.txt") << text.substr(half);
        const Checkpoint c = Checkpoint::open(kStories);
        EvaluationRequest request;
        request.data = dir / "eval.txt";
        request.calibrationData = dir / "calibration.txt";
        request.calibrationSamples = 6;
        request.scheme = preset("vllm-w4a16");
        const EvaluationReport rtn = evaluateCheckpoint(c, request, m_progress);
        QVERIFY(rtn.algorithms.empty() && rtn.gptqLoss.empty());
        request.gptq = true;
        const EvaluationReport gptq = evaluateCheckpoint(c, request, m_progress);
        qInfo("float %.4f, int4 g128 RTN %.4f, GPTQ %.4f", rtn.floatPerplexity, rtn.perplexity, gptq.perplexity);
        QCOMPARE(gptq.algorithms, std::vector<std::string> { "gptq" });
        QCOMPARE(gptq.gptqLoss.size(), std::size_t(5 * 7));
        QCOMPARE(gptq.floatPerplexity, rtn.floatPerplexity);
        QVERIFY(gptq.perplexity < rtn.perplexity);
        QVERIFY(gptq.klDivergence < rtn.klDivergence);
        QCOMPARE(gptq.calibrationWindows, 6);
        // AWQ (llm-compressor's AWQ transform) before the rounding, and before GPTQ.
        request.gptq = false;
        request.awq = true;
        const EvaluationReport awq = evaluateCheckpoint(c, request, m_progress);
        request.gptq = true;
        const EvaluationReport awqGptq = evaluateCheckpoint(c, request, m_progress);
        qInfo("AWQ %.4f, AWQ + GPTQ %.4f", awq.perplexity, awqGptq.perplexity);
        QCOMPARE(awq.algorithms, std::vector<std::string> { "awq" });
        QVERIFY(awq.perplexity < rtn.perplexity);
        QVERIFY(awqGptq.perplexity < rtn.perplexity);
        request.awq = false;
        // Feeding each layer the float model's outputs instead is another (worse here or not) run.
        request.propagateError = false;
        const EvaluationReport floatInputs = evaluateCheckpoint(c, request, m_progress);
        QVERIFY(floatInputs.perplexity != gptq.perplexity);
        QVERIFY(floatInputs.perplexity < rtn.perplexity);
        // The group order (contiguous groups in the permuted order): the fake-quantized weights are exact
        // without a g_idx.
        request.gptqActOrder = "group";
        const EvaluationReport groupOrder = evaluateCheckpoint(c, request, m_progress);
        QVERIFY(groupOrder.perplexity < rtn.perplexity);
        request.gptqActOrder = "sideways";
        QVERIFY_THROWS_EXCEPTION(UsageError, evaluateCheckpoint(c, request, m_progress));
        // int4 per output channel, where rounding hurts most: GPTQ again lower.
        request.gptqActOrder = "static";
        request.propagateError = true;
        QuantScheme channel = preset("vllm-w4a16");
        channel.granularity = Granularity::Channel;
        channel.groupSize = 0;
        channel.validate();
        request.scheme = channel;
        request.gptq = false;
        const EvaluationReport channelRtn = evaluateCheckpoint(c, request, m_progress);
        request.gptq = true;
        const EvaluationReport channelGptq = evaluateCheckpoint(c, request, m_progress);
        qInfo("int4 per channel: RTN %.4f, GPTQ %.4f", channelRtn.perplexity, channelGptq.perplexity);
        QVERIFY(channelGptq.perplexity < channelRtn.perplexity);
    }

    void divergenceIsZeroWhenEveryModuleIsKept()
    {
        const fs::path path = model("llama4", { "llama", 4 });
        const Checkpoint c = Checkpoint::open(path);
        writeIds(path / "ids.json", randomIds(80, 96, 5));
        EvaluationRequest request;
        request.data = path / "ids.json";
        request.seqLen = 32;
        request.scheme = preset("vllm-w8a8-int8");
        for (const TensorInfo& t : c.tensors()) {
            const std::string suffix = ".weight";
            if (t.shape.size() == 2 && t.name.find("embed") == std::string::npos)
                request.kept.insert(t.name.substr(0, t.name.size() - suffix.size()));
        }
        const EvaluationReport r = evaluateCheckpoint(c, request, m_progress);
        QCOMPARE(r.quantizedModules, 0);
        QCOMPARE(r.blocks.size(), std::size_t(4));
        for (const BlockDivergence& b : r.blocks) {
            QCOMPARE(b.relativeMse, 0.0);
            QVERIFY(std::abs(b.cosine - 1) < 1e-6);
        }
        for (const ModuleDivergence& m : r.modules) {
            QCOMPARE(m.ownRelativeMse, 0.0);
            QCOMPARE(m.accumulatedRelativeMse, 0.0);
        }
        QCOMPARE(r.klDivergence, 0.0);
    }

    void divergenceGrowsWithDepthAtTwoBits()
    {
        const fs::path path = model("llama6", { "llama", 6 });
        const Checkpoint c = Checkpoint::open(path);
        writeIds(path / "ids.json", randomIds(130, 96, 6));
        EvaluationRequest request;
        request.data = path / "ids.json";
        request.seqLen = 64;
        QuantScheme s = preset("nxd-int8");
        s.name = "int2-channel";
        s.bits = 2;
        s.validate();
        request.scheme = s;
        request.kept = { "lm_head" };
        const EvaluationReport r = evaluateCheckpoint(c, request, m_progress);
        QCOMPARE(r.blocks.size(), std::size_t(6));
        for (std::size_t i = 1; i < r.blocks.size(); ++i)
            QVERIFY2(r.blocks[i].relativeMse > r.blocks[i - 1].relativeMse,
                qPrintable(QString("block %1: %2 after %3").arg(i).arg(r.blocks[i].relativeMse).arg(r.blocks[i - 1].relativeMse)));
        QVERIFY(r.blocks.front().relativeMse > 0);
        QVERIFY(r.blocks.back().cosine < r.blocks.front().cosine);
        // Every module has an error of its own; after the first layer the stream carries more.
        QCOMPARE(r.modules.size(), std::size_t(6 * 7));
        for (const ModuleDivergence& m : r.modules)
            QVERIFY(m.ownRelativeMse > 0);
        const ModuleDivergence& lastDown = r.modules.back();
        QCOMPARE(lastDown.module, std::string("model.layers.5.mlp.down_proj"));
        QVERIFY(lastDown.accumulatedRelativeMse > lastDown.ownRelativeMse);
    }

    void cancelStopsWithinTheBlock()
    {
        const fs::path path = model("llama4", { "llama", 4 });
        const Checkpoint c = Checkpoint::open(path);
        const auto blocks = ModelBlocks::open(c, modelConfigFromJson(c.config()));
        RecordingProgress progress;
        std::set<std::string> seen;
        int callsInLayer1 = 0;
        BlockHooks hooks;
        hooks.input = [&](const std::string& module, const at::Tensor& x) {
            seen.insert(module.substr(0, module.find(".self_attn") == std::string::npos ? module.find(".mlp")
                                                                                        : module.find(".self_attn")));
            if (progress.current == "model.layers.1" && ++callsInLayer1 == 3)
                progress.cancel = true; // during the first of five sequences
            return x;
        };
        BlockRunner runner(*blocks);
        std::vector<std::vector<std::int64_t>> sequences(5, randomIds(12, 96, 7));
        runner.addStream({ runner.addWeights(), runner.addSequences(sequences), hooks, -1, true, nullptr });
        QVERIFY_THROWS_EXCEPTION(CancelledError, runner.run(progress));
        QCOMPARE(progress.current, std::string("model.layers.1"));
        QVERIFY(seen.count("model.layers.1") == 1 && seen.count("model.layers.2") == 0);
        QCOMPARE(callsInLayer1, 7); // the sequence in flight finishes its block, no other starts
    }

    void missingTensorFailsWhenItsBlockLoads()
    {
        test::GeneratedModel m { "llama", 4 };
        m.omit = { "model.layers.2.mlp.up_proj.weight" };
        const fs::path path = model("llama-damaged", m);
        const Checkpoint c = Checkpoint::open(path);
        writeIds(path / "ids.json", randomIds(40, 96, 8));
        EvaluationRequest request;
        request.data = path / "ids.json";
        request.seqLen = 16;
        RecordingProgress progress;
        try {
            evaluateCheckpoint(c, request, progress);
            QFAIL("a missing tensor was not reported");
        } catch (const FormatError& e) {
            QCOMPARE(e.context().tensor, std::string("model.layers.2.mlp.up_proj.weight"));
        }
        QCOMPARE(progress.current, std::string("model.layers.2"));
    }

    void tooSmallAMemoryLimitNamesTheBlock()
    {
        const fs::path path = model("llama4", { "llama", 4 });
        const Checkpoint c = Checkpoint::open(path);
        writeIds(path / "ids.json", randomIds(40, 96, 9));
        EvaluationRequest request;
        request.data = path / "ids.json";
        request.seqLen = 16;
        request.maxMemory = 1 << 20;
        try {
            evaluateCheckpoint(c, request, m_progress);
            QFAIL("a 1 MiB limit was accepted");
        } catch (const UsageError& e) {
            const std::string what = e.what();
            QVERIFY2(what.find("model.layers.") != std::string::npos && what.find("1.00 MiB") != std::string::npos,
                e.what());
        }
    }

    void generationWithKvCacheEqualsFullRecomputation()
    {
        for (const fs::path& path : { model("llama", { "llama", 3 }), model("gpt2", { "gpt2", 3 }) }) {
            const Checkpoint c = Checkpoint::open(path);
            const ModelConfig config = modelConfigFromJson(c.config());
            const auto resident = loadLanguageModel(c, config);
            const std::vector<std::int64_t> prompt = randomIds(4, config.vocabSize, 10);
            // The base class decodes by running the whole sequence again for every token.
            const std::vector<std::int64_t> cached = resident->greedy(prompt, 20);
            const std::vector<std::int64_t> full = resident->LanguageModel::greedy(prompt, 20);
            QCOMPARE(cached, full);
            const auto blocks = ModelBlocks::open(c, config);
            GenerationOptions options;
            options.steps = 20;
            options.maxMemory = 1; // nothing stays resident: every layer streams at every token
            QCOMPARE(generateGreedy(*blocks, prompt, options, m_progress), full);
            options.maxMemory = 0;
            QCOMPARE(generateGreedy(*blocks, prompt, options, m_progress), full);
        }
    }

};

QTEST_GUILESS_MAIN(TestBlockRunner)
#include "tst_block_runner.moc"
