// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/evaluation.h"

#include "error.h"
#include "io/checkpoint.h"
#include "model/module_tree.h"
#include "models/language_model.h"
#include "models/model_config.h"
#include "runtime/eval_data.h"
#include "runtime/fake_quant.h"
#include "runtime/perplexity.h"
#include "tokenize/tokenizer.h"

#include <ATen/ATen.h>

#include <chrono>

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

// The first `samples` windows of seqLen tokens of the calibration data.
std::vector<std::vector<std::int64_t>> calibrationWindows(
    const Checkpoint& checkpoint, const ModelConfig& config, const EvaluationRequest& request,
    const std::vector<std::int64_t>& evalIds)
{
    const std::vector<std::int64_t> ids = request.calibrationData.empty()
        ? evalIds
        : loadEvalTokens(request.calibrationData, checkpoint, config.vocabSize);
    std::vector<std::vector<std::int64_t>> windows;
    for (std::size_t begin = 0; begin < ids.size() && static_cast<int>(windows.size()) < request.calibrationSamples;
         begin += static_cast<std::size_t>(request.seqLen)) {
        const std::size_t end = std::min(ids.size(), begin + static_cast<std::size_t>(request.seqLen));
        windows.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(begin),
            ids.begin() + static_cast<std::ptrdiff_t>(end));
    }
    if (windows.empty())
        throw UsageError("static activations need calibration data, and it holds no tokens");
    return windows;
}

} // namespace

EvaluationReport evaluateCheckpoint(const Checkpoint& checkpoint, const EvaluationRequest& request, Progress& progress)
{
    const ModelConfig config = modelConfigFromJson(checkpoint.config());
    const PerplexityOptions options = perplexityOptions(checkpoint, config, request);
    const std::unique_ptr<LanguageModel> model = loadLanguageModel(checkpoint, config);
    const std::vector<std::int64_t> ids = loadEvalTokens(request.data, checkpoint, config.vocabSize);

    EvaluationReport report;
    report.modelType = config.modelType;
    report.protocol = perplexityProtocolName(options.protocol);
    report.dataTokens = static_cast<std::int64_t>(ids.size());
    // Warm-up (thread pool, first-touch pages), left out of the timing.
    model->forward(std::vector<std::int64_t>(ids.begin(), ids.begin() + std::min<std::size_t>(ids.size(), 2)));
    if (!request.scheme) {
        const auto started = std::chrono::steady_clock::now();
        const PerplexityResult r = evaluatePerplexity(*model, ids, options, progress);
        report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        report.tokens = r.tokens;
        report.forwardTokens = r.forwardTokens;
        report.windows = r.windows;
        report.floatPerplexity = r.perplexity;
        report.floatMeanNll = r.meanNll;
        return report;
    }
    QuantScheme scheme = *request.scheme;
    if (!request.activations.empty())
        scheme.activations = request.activations;
    scheme.validate();
    // Only what an export quantizes: the tree's Linear modules that are not kept (GPT-2's Conv1D
    // modules, for one, stay float in every export, so they do here).
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    std::set<std::string> floatModules = request.kept;
    std::set<std::string> quantizable;
    for (int m : tree.quantizable())
        quantizable.insert(tree.node(m).path);
    for (const auto& path : quantizable)
        report.quantizedModules += request.kept.count(path) ? 0 : 1;
    const WeightTransform quantize = fakeQuantizeWeights(scheme, request.kept, request.moduleSchemes);
    const std::unique_ptr<LanguageModel> quantized
        = loadLanguageModel(checkpoint, config, [&](const std::string& module, const at::Tensor& w) {
              return quantizable.count(module) ? quantize(module, w) : w;
          });
    for (const std::string& head : quantized->headModules())
        floatModules.insert(head);
    ActivationRanges ranges;
    if (isStaticActivations(scheme.activations)) {
        const auto windows = calibrationWindows(checkpoint, config, request, ids);
        ranges = measureActivationRanges(*quantized, windows, progress);
        report.calibrationWindows = static_cast<int>(windows.size());
    }
    const LinearInputHook quantizeInputs = fakeQuantizeActivations(scheme, floatModules, std::move(ranges));
    const LinearInputHook activations = !quantizeInputs
        ? LinearInputHook()
        : [&](const std::string& module, const at::Tensor& x) {
              return quantizable.count(module) ? quantizeInputs(module, x) : x;
          };
    const auto started = std::chrono::steady_clock::now();
    const PerplexityResult r = evaluatePerplexity(*quantized, ids, options, progress, activations, model.get());
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report.tokens = r.tokens;
    report.forwardTokens = r.forwardTokens;
    report.windows = r.windows;
    report.floatPerplexity = r.referencePerplexity;
    report.floatMeanNll = std::log(r.referencePerplexity);
    report.quantized = true;
    report.schemeName = scheme.name;
    report.activations = scheme.activations;
    report.perplexity = r.perplexity;
    report.meanNll = r.meanNll;
    report.klDivergence = r.klDivergence;
    report.top1Agreement = r.top1Agreement;
    return report;
}

} // namespace qs
