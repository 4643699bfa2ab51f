// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/evaluation.h"

#include "algo/hadamard.h"
#include "error.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "models/block.h"
#include "models/model_config.h"
#include "runtime/block_runner.h"
#include "runtime/chunked_scorer.h"
#include "runtime/eval_data.h"
#include "runtime/awq_calibration.h"
#include "runtime/fake_quant.h"
#include "runtime/gptq_calibration.h"
#include "runtime/memory.h"
#include "runtime/perplexity.h"
#include "runtime/rotation.h"
#include "runtime/spinquant.h"
#include "runtime/smoothquant_calibration.h"
#include "quant/calibrated_tensors.h"
#include "quant/scheme_quantizer.h"
#include "tokenize/tokenizer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <optional>

namespace qs {
namespace {

// The ids a masked-LM score skips: the sequence markers and padding the data may hold.
std::vector<std::int64_t> specialIds(const Tokenizer& t)
{
    std::vector<std::int64_t> ids;
    for (const auto& id : { t.bosToken(), t.eosToken() }) {
        if (id)
            ids.push_back(*id);
    }
    for (const char* s : { "[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>" }) {
        if (const auto id = t.tokenId(s))
            ids.push_back(*id);
    }
    return ids;
}

PerplexityOptions perplexityOptions(
    const Checkpoint& checkpoint, const ModelConfig& config, const EvaluationRequest& request)
{
    PerplexityOptions o;
    o.seqLen = request.seqLen;
    o.maxWindows = request.maxWindows;
    o.protocol = request.protocol.empty()
        ? (config.causal() ? PerplexityProtocol::Overlap : PerplexityProtocol::Masked)
        : perplexityProtocolFromName(request.protocol);
    if (o.protocol != PerplexityProtocol::Masked)
        return o;
    if (config.causal())
        throw UsageError("masked-LM scoring is for encoders; a " + config.modelType
            + " decoder is scored with the overlap or blocks protocol");
    o.maskEvery = request.maskEvery;
    o.maskToken = request.maskToken;
    std::unique_ptr<Tokenizer> tokenizer;
    if (!checkpoint.tokenizerFile().empty()) {
        try {
            tokenizer = loadTokenizer(checkpoint.tokenizerFile(), config.vocabSize);
        } catch (const Error&) {
            if (o.maskToken < 0) // given the mask token, the sequence markers are optional
                throw;
        }
    }
    if (o.maskToken < 0 && tokenizer) {
        if (const auto mask = tokenizer->maskToken())
            o.maskToken = *mask;
    }
    if (o.maskToken < 0)
        throw UsageError("masked-LM scoring needs the mask token: the model has no tokenizer that names one ([MASK] "
                         "or <mask>); give its id (--mask-token)");
    if (tokenizer) {
        o.unscored = specialIds(*tokenizer);
        // Each window between the markers the encoder was trained with.
        for (const char* s : { "[CLS]", "<s>" }) {
            if (const auto id = tokenizer->tokenId(s); id && o.windowPrefix.empty())
                o.windowPrefix = { *id };
        }
        for (const char* s : { "[SEP]", "</s>" }) {
            if (const auto id = tokenizer->tokenId(s); id && o.windowSuffix.empty())
                o.windowSuffix = { *id };
        }
    }
    return o;
}

// The first `samples` windows of calibrationSeqLen (default seqLen) tokens of the calibration data,
// whole windows only (as the export's calibration takes them).
std::vector<std::vector<std::int64_t>> calibrationWindows(
    const Checkpoint& checkpoint, const ModelConfig& config, const EvaluationRequest& request,
    const std::vector<std::int64_t>& evalIds)
{
    if (request.calibrationSamples < 1 || request.calibrationSeqLen < 0)
        throw UsageError("the calibration needs at least one sample of at least one token");
    const std::vector<std::int64_t> ids = request.calibrationData.empty()
        ? evalIds
        : loadEvalTokens(request.calibrationData, checkpoint, config.vocabSize);
    const auto length = static_cast<std::size_t>(request.calibrationSeqLen > 0 ? request.calibrationSeqLen : request.seqLen);
    if (static_cast<std::int64_t>(length) > config.maxPositions)
        throw UsageError("calibration samples of " + std::to_string(length) + " tokens exceed the model's "
            + std::to_string(config.maxPositions) + " positions (--calibration-seq-len)");
    if (ids.size() < length)
        throw UsageError("the calibration (static activations, SmoothQuant, GPTQ) needs one sample of "
                + std::to_string(length) + " tokens (--calibration-seq-len), and the "
                + (request.calibrationData.empty() ? "evaluation" : "calibration") + " data holds "
                + std::to_string(ids.size()),
            ErrorContext {
                (request.calibrationData.empty() ? request.data : request.calibrationData).string(), {}, {} });
    std::vector<std::vector<std::int64_t>> windows;
    for (std::size_t begin = 0;
         begin + length <= ids.size() && static_cast<int>(windows.size()) < request.calibrationSamples;
         begin += length)
        windows.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(begin),
            ids.begin() + static_cast<std::ptrdiff_t>(begin + length));
    return windows;
}

// The scheme's weight transform, restricted to what an export quantizes: the tree's Linear
// (and GPT-2 Conv1D) modules that are not kept. Counts them into the report.
struct QuantizedModel
{
    QuantScheme scheme;
    std::set<std::string> quantizable;
    std::set<std::string> floatInputs; // kept modules and the output heads
    WeightTransform weights;
    bool headQuantized = false;
};

QuantizedModel quantizedModel(
    const Checkpoint& checkpoint, const ModelBlocks& blocks, const EvaluationRequest& request, EvaluationReport& report)
{
    QuantizedModel q;
    q.scheme = *request.scheme;
    if (!request.activations.empty())
        q.scheme.activations = request.activations;
    q.scheme.validate();
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    for (int m : tree.quantizable())
        q.quantizable.insert(tree.node(m).path);
    for (const auto& path : q.quantizable)
        report.quantizedModules += request.kept.count(path) ? 0 : 1;
    q.floatInputs = request.kept;
    for (const std::string& head : blocks.headModules()) {
        q.floatInputs.insert(head);
        q.headQuantized = q.headQuantized || (q.quantizable.count(head) > 0 && request.kept.count(head) == 0);
    }
    const WeightTransform quantize = fakeQuantizeWeights(q.scheme, request.kept, request.moduleSchemes);
    q.weights = [quantize, quantizable = q.quantizable](const std::string& module, const at::Tensor& w) {
        return quantizable.count(module) ? quantize(module, w) : w;
    };
    return q;
}

// The calibration windows a scheme needs (static activation ranges, GPTQ), or none.
std::vector<std::vector<std::int64_t>> calibrationInput(const Checkpoint& checkpoint, const ModelConfig& config,
    const EvaluationRequest& request, const std::vector<std::int64_t>& ids)
{
    if (!request.scheme)
        return {};
    const std::string mode = request.activations.empty() ? request.scheme->activations : request.activations;
    if (!request.gptq && !request.smoothQuant && !request.awq && !isStaticActivations(mode))
        return {};
    return calibrationWindows(checkpoint, config, request, ids);
}

// `hook` on the input divided by the module's factors, for the modules that have them (fms-mo's
// SmoothQuant); the factors fill in as the layers calibrate.
LinearInputHook dividing(LinearInputHook hook, std::shared_ptr<const std::map<std::string, at::Tensor>> divisors)
{
    return [hook = std::move(hook), divisors = std::move(divisors)](const std::string& module, const at::Tensor& x) {
        const auto it = divisors->find(module);
        const at::Tensor y = it == divisors->end() ? x : x / it->second;
        return hook ? hook(module, y) : y;
    };
}

struct Outcomes
{
    std::shared_ptr<GptqOutcome> gptq = std::make_shared<GptqOutcome>();
    std::shared_ptr<SmoothQuantOutcome> smoothQuant = std::make_shared<SmoothQuantOutcome>();
    std::shared_ptr<AwqOutcome> awq = std::make_shared<AwqOutcome>();
};

// AWQ's stream on the calibration set: the balance layers rescaled (float and quantized
// variants) before GPTQ or the ranges see the layer.
void addAwqStream(BlockRunner& runner, int floatWeights, int quantizedWeights, int set, const QuantizedModel& q,
    const EvaluationRequest& request, const Outcomes& outcomes, CancelToken cancel, EvaluationReport& report)
{
    AwqSettings settings = awqSettingsFor(q.scheme, request.smoothQuant.has_value(), request.awqMappings,
        request.awqIgnore, request.awqDuoScaling, request.awqGrid, request.maxMemory, request.spillDirectory);
    if (request.awqClip && request.gptq)
        throw UsageError("AWQ's clip search goes with round to nearest: GPTQ chooses its own codes");
    settings.clip = request.awqClip;
    auto schemeOf = [scheme = q.scheme, quantizable = q.quantizable, floatInputs = q.floatInputs,
                        kept = request.kept, own = request.moduleSchemes](
                        const std::string& module) -> std::optional<QuantScheme> {
        if (!quantizable.count(module) || kept.count(module) || floatInputs.count(module))
            return std::nullopt;
        const auto it = own.find(module);
        return it != own.end() ? it->second : scheme;
    };
    RunnerStream stream { quantizedWeights, set, {}, -1, false, nullptr };
    stream.calibration = awqCalibration(floatWeights, q.weights, schemeOf,
        checkedAwqSettings(runner.model(), std::move(settings)), outcomes.awq, cancel);
    runner.addStream(std::move(stream));
    report.algorithms.emplace_back("awq");
}

// The quantized stream beside the float one (its reference), and before them, when the scheme
// needs one, the calibration stream: static activation ranges measured on the quantized weights,
// and with GPTQ each layer's modules replaced by GPTQ's on the calibration samples first.
void addQuantizedStreams(BlockRunner& runner, int floatWeights, const QuantizedModel& q,
    const std::vector<std::vector<std::int64_t>>& inputs, std::vector<std::vector<std::int64_t>> calibration,
    const EvaluationRequest& request, const Outcomes& outcomes, CancelToken cancel, EvaluationReport& report)
{
    const int quantizedWeights = runner.addWeights(q.weights, q.headQuantized);
    auto ranges = std::make_shared<ActivationRanges>();
    const LinearInputHook quantizeInputs = fakeQuantizeActivations(q.scheme, q.floatInputs, ranges);
    LinearInputHook activations;
    if (quantizeInputs) {
        activations = [quantizeInputs, quantizable = q.quantizable](const std::string& module, const at::Tensor& x) {
            return quantizable.count(module) ? quantizeInputs(module, x) : x;
        };
    }
    const bool ranged = isStaticActivations(q.scheme.activations);
    // fms-mo's SmoothQuant (an fms-mo scheme) is not folded: its layers divide their input by s.
    const bool fmsMo = request.smoothQuant && q.scheme.convention == ScaleConvention::FmsMo;
    auto divisors = std::make_shared<std::map<std::string, at::Tensor>>();
    if (fmsMo) {
        if (request.gptq)
            throw UsageError("fms-mo's SmoothQuant (an fms-mo scheme) goes without GPTQ: its DQ flow rounds W * s");
        activations = dividing(activations, divisors);
    }
    if (!calibration.empty()) {
        report.calibrationWindows = static_cast<int>(calibration.size());
        const int set = runner.addSequences(std::move(calibration));
        if (fmsMo) {
            std::set<std::string> modules;
            for (const std::string& m : q.quantizable) {
                if (!q.floatInputs.count(m))
                    modules.insert(m);
            }
            RunnerStream smooth { quantizedWeights, set, {}, -1, false, nullptr };
            smooth.calibration = fmsMoSmoothQuantCalibration(floatWeights, runner.model().checkpoint().modelType(),
                std::move(modules), q.scheme, *request.smoothQuant,
                [divisors, outcome = outcomes.smoothQuant](Block& layer, const FmsMoSmoothing& f) {
                    layer.replaceWeight(f.module, dequantizeScheme(f.quantized).reshape(f.scaledWeight.sizes()));
                    (*divisors)[f.module] = f.scale;
                    outcome->smoothOf[f.module] = "input / s";
                });
            runner.addStream(std::move(smooth));
            report.algorithms.emplace_back("smoothquant");
            report.smoothQuantAlpha = *request.smoothQuant;
        } else if (request.smoothQuant) {
            SmoothQuantSettings settings;
            settings.alpha = *request.smoothQuant;
            settings.mappings = request.smoothQuantMappings;
            settings.ignore = request.smoothQuantIgnore;
            RunnerStream smooth { quantizedWeights, set, {}, -1, false, nullptr };
            smooth.calibration = smoothQuantCalibration(floatWeights, q.weights,
                checkedSmoothQuantSettings(runner.model(), std::move(settings)), outcomes.smoothQuant);
            runner.addStream(std::move(smooth));
            report.algorithms.emplace_back("smoothquant");
            report.smoothQuantAlpha = *request.smoothQuant;
        }
        if (request.awq)
            addAwqStream(runner, floatWeights, quantizedWeights, set, q, request, outcomes, cancel, report);
        RunnerStream stream { quantizedWeights, set, {}, -1, false, nullptr };
        // Static ranges are measured on the quantized weights with float inputs; otherwise the
        // calibration runs the quantized model as it will be evaluated.
        stream.hooks.input = ranged ? dividing(activationRangeObserver(ranges), divisors) : activations;
        if (request.gptq) {
            std::set<std::string> modules;
            for (const std::string& m : q.quantizable) {
                if (!request.kept.count(m) && !q.floatInputs.count(m))
                    modules.insert(m);
            }
            GptqSettings settings;
            settings.blockSize = request.gptqBlockSize;
            settings.dampening = request.gptqDampening;
            settings.actOrder = request.gptqActOrder;
            stream.calibration = gptqCalibration(
                floatWeights, q.scheme, request.moduleSchemes, std::move(modules), settings, outcomes.gptq, cancel);
            stream.calibration->propagateError = request.propagateError;
            report.algorithms.emplace_back("gptq");
        }
        runner.addStream(std::move(stream));
    }
    const int evaluation = runner.addSequences(inputs);
    const int reference = runner.addStream({ floatWeights, evaluation, {}, -1, true, nullptr });
    runner.addStream({ quantizedWeights, evaluation, { activations, {}, {} }, reference, true, nullptr });
}

} // namespace

PerplexityOptions evaluationPerplexityOptions(
    const Checkpoint& checkpoint, const ModelConfig& config, const EvaluationRequest& request)
{
    return perplexityOptions(checkpoint, config, request);
}

void applyAlgorithms(EvaluationRequest& request, const AlgorithmSettings& a)
{
    request.gptq = a.gptq;
    request.gptqBlockSize = a.gptqBlockSize;
    request.gptqDampening = a.gptqDampening;
    request.gptqActOrder = a.gptqActOrder;
    request.propagateError = a.propagateError;
    request.smoothQuant = a.smoothQuant;
    request.smoothQuantMappings = a.smoothQuantMappings;
    request.smoothQuantIgnore = a.smoothQuantIgnore;
    request.rotation = a.rotation;
    request.rotationSeed = a.rotationSeed;
    request.rotationR2 = a.rotationR2;
    request.rotationOnline = a.rotationOnline;
    request.spinQuant = a.spinQuant;
    request.spinQuantSteps = a.spinQuantSteps;
    request.spinQuantLr = a.spinQuantLr;
    request.awq = a.awq;
    request.awqMappings = a.awqMappings;
    request.awqIgnore = a.awqIgnore;
    request.awqDuoScaling = a.awqDuoScaling;
    request.awqGrid = a.awqGrid;
    request.awqClip = a.awqClip;
}

namespace {

// The rotated model (its tensors in an unnamed temporary file; SpinQuant's rotations learned first)
// is the one evaluated, the float reference included: its function is the original's.
EvaluationReport evaluateRotated(const Checkpoint& checkpoint, const EvaluationRequest& request, Progress& progress)
{
    RotationSettings settings;
    settings.kind = rotationKindFromName(request.rotation);
    settings.seed = request.rotationSeed;
    settings.r2 = request.rotationR2;
    settings.online = request.rotationOnline;
    settings.untie = true; // the rotated model's own head, in memory only
    std::optional<SpinQuantReport> learned;
    if (request.spinQuant) {
        const ModelConfig config = modelConfigFromJson(checkpoint.config());
        AlgorithmSettings a;
        a.rotation = request.rotation;
        a.rotationSeed = request.rotationSeed;
        a.rotationR2 = request.rotationR2;
        a.rotationOnline = request.rotationOnline;
        a.spinQuantSteps = request.spinQuantSteps;
        a.spinQuantLr = request.spinQuantLr;
        a.gptq = request.gptq;
        SpinQuantSettings learn = spinQuantSettings(a);
        learn.scheme = request.scheme;
        if (learn.scheme && !request.activations.empty())
            learn.scheme->activations = request.activations;
        learn.kept = request.kept;
        learn.moduleSchemes = request.moduleSchemes;
        learn.maxMemory = request.maxMemory;
        const std::vector<std::int64_t> ids = request.calibrationData.empty()
            ? loadEvalTokens(request.data, checkpoint, config.vocabSize)
            : std::vector<std::int64_t>();
        SpinQuantReport report;
        auto rotations = std::make_shared<const LearnedRotations>(learnRotations(
            checkpoint, calibrationWindows(checkpoint, config, request, ids), learn, progress, report));
        if (!report.keptStart) // otherwise the start: the fixed rotation of the same kind and seed
            settings.learned = std::move(rotations);
        learned = report;
    }
    CalibratedTensors rotated(request.spillDirectory);
    const RotationReport r = rotateCheckpoint(checkpoint, settings, rotated, progress);
    EvaluationRequest inner = request;
    inner.rotation.clear();
    if (settings.online)
        inner.downInputRotation = std::make_shared<const Rotation>(
            onlineDownRotation(modelConfigFromJson(checkpoint.config()), settings));
    EvaluationReport report = evaluateCheckpoint(rotated.apply(checkpoint), inner, progress);
    report.algorithms.insert(report.algorithms.begin(), learned ? "spinquant" : "rotation");
    report.spinQuant = learned;
    report.rotation = "R1 " + r.r1 + (r.r2.empty() ? std::string() : ", R2 " + r.r2)
        + (r.r4.empty() ? std::string() : ", online R4 " + r.r4);
    return report;
}

} // namespace

EvaluationReport evaluateCheckpoint(const Checkpoint& checkpoint, const EvaluationRequest& request, Progress& progress)
{
    if (!request.rotation.empty())
        return evaluateRotated(checkpoint, request, progress);
    if ((request.gptq || request.smoothQuant || request.awq) && !request.scheme)
        throw UsageError("SmoothQuant and GPTQ prepare a model for a quantization scheme: give one");
    const ModelConfig config = modelConfigFromJson(checkpoint.config());
    const PerplexityOptions options = perplexityOptions(checkpoint, config, request);
    const std::unique_ptr<ModelBlocks> blocks = ModelBlocks::open(checkpoint, config);
    if (request.downInputRotation)
        blocks->setInputRotation("mlp.down_proj", request.downInputRotation);
    const std::vector<std::int64_t> ids = loadEvalTokens(request.data, checkpoint, config.vocabSize);
    const std::vector<ScoredPass> passes = scoredPasses(config, ids, options);

    EvaluationReport report;
    report.modelType = config.modelType;
    report.protocol = perplexityProtocolName(options.protocol);
    report.dataTokens = static_cast<std::int64_t>(ids.size());
    BlockRunOptions runOptions;
    runOptions.maxMemory = request.maxMemory;
    runOptions.spillDirectory = request.spillDirectory;
    BlockRunner runner(*blocks, runOptions);
    std::vector<std::vector<std::int64_t>> inputs, rows;
    for (const ScoredPass& p : passes) {
        inputs.push_back(p.input);
        rows.push_back(p.rows);
        report.forwardTokens += static_cast<std::int64_t>(p.input.size());
    }
    const int floatWeights = runner.addWeights();
    std::optional<QuantizedModel> q;
    Outcomes outcomes;
    if (request.scheme) {
        q = quantizedModel(checkpoint, *blocks, request, report);
        addQuantizedStreams(runner, floatWeights, *q, inputs, calibrationInput(checkpoint, config, request, ids),
            request, outcomes, progress.token(), report);
    } else {
        runner.addStream({ floatWeights, runner.addSequences(inputs), {}, -1, true, nullptr });
    }
    runner.run(progress);

    PerplexityResult r;
    r.compared = q.has_value();
    PerplexitySums sums;
    std::vector<std::unique_ptr<ChunkedScorer>> scorers(passes.size());
    runner.runHead(rows,
        [&](std::size_t s, std::int64_t begin, const std::vector<at::Tensor>& logits) {
            auto& scorer = scorers[s];
            if (!scorer)
                scorer = std::make_unique<ChunkedScorer>(passes[s].targets, r.compared);
            // With a scheme: the float stream is the reference, the quantized one is scored.
            if (r.compared)
                scorer->add(begin, logits[1], logits[0]);
            else
                scorer->add(begin, logits[0]);
            if (begin + logits[0].size(1) < config.vocabSize)
                return;
            sums.addChunked(passes[s], scorer->nll(), scorer->referenceNll(), scorer->kl(), scorer->agreements());
            scorer.reset();
        },
        progress);
    sums.finish(r);
    for (std::size_t i = 0; i < passes.size(); ++i)
        r.windows += i == 0 || passes[i].window != passes[i - 1].window ? 1 : 0;

    const BlockRunStats& stats = runner.stats();
    report.seconds = stats.seconds;
    report.blockLoadSeconds = stats.loadSeconds;
    report.quantizeSeconds = stats.transformSeconds;
    report.headSeconds = stats.headSeconds;
    report.maxMemory = stats.maxMemory;
    report.hiddenBytes = stats.hiddenBytes;
    report.spilledBytes = stats.spilledBytes;
    report.largestBlockBytes = stats.largestBlockBytes;
    report.tokens = r.tokens;
    report.windows = r.windows;
    if (!q) {
        report.floatPerplexity = r.perplexity;
        report.floatMeanNll = r.meanNll;
    } else {
        report.floatPerplexity = r.referencePerplexity;
        report.floatMeanNll = std::log(r.referencePerplexity);
        report.quantized = true;
        report.schemeName = q->scheme.name;
        report.activations = q->scheme.activations;
        report.perplexity = r.perplexity;
        report.meanNll = r.meanNll;
        report.klDivergence = r.klDivergence;
        report.top1Agreement = r.top1Agreement;
        report.blocks = runner.blocks();
        report.modules = runner.modules();
        report.gptqLoss = outcomes.gptq->loss;
        report.warnings = outcomes.gptq->warnings;
        report.smoothedNorms = static_cast<int>(outcomes.smoothQuant->scales.size());
        report.smoothedModules = static_cast<int>(outcomes.smoothQuant->smoothOf.size());
    }
    report.peakRssBytes = peakRssBytes();
    return report;
}

} // namespace qs
