#include "runtime/evaluation.h"

#include "io/checkpoint.h"
#include "runtime/eval_data.h"
#include "runtime/fake_quant.h"
#include "runtime/llama_model.h"
#include "runtime/model_config.h"
#include "runtime/perplexity.h"

#include <ATen/ATen.h>

namespace qs {

EvaluationReport evaluateCheckpoint(const Checkpoint& checkpoint, const EvaluationRequest& request, Progress& progress)
{
    const ModelConfig config = modelConfigFromJson(checkpoint.config());
    const LlamaModel model = LlamaModel::load(checkpoint, config);
    const std::vector<std::int64_t> ids = loadEvalTokens(request.data, checkpoint, config.vocabSize);
    PerplexityOptions options;
    options.seqLen = request.seqLen;
    options.maxWindows = request.maxWindows;
    options.protocol = request.blocks ? PerplexityProtocol::Blocks : PerplexityProtocol::Overlap;

    EvaluationReport report;
    report.modelType = config.modelType;
    report.dataTokens = static_cast<std::int64_t>(ids.size());
    if (!request.scheme) {
        const PerplexityResult r = evaluatePerplexity(model, ids, options, progress);
        report.tokens = r.tokens;
        report.windows = r.windows;
        report.floatPerplexity = r.perplexity;
        return report;
    }
    const QuantScheme& scheme = *request.scheme;
    const LlamaModel quantized
        = LlamaModel::load(checkpoint, config, fakeQuantizeWeights(scheme, request.kept, request.moduleSchemes));
    const PerplexityResult r
        = evaluatePerplexity(quantized, ids, options, progress, fakeQuantizeActivations(scheme, request.kept), &model);
    report.tokens = r.tokens;
    report.windows = r.windows;
    report.floatPerplexity = r.referencePerplexity;
    report.quantized = true;
    report.schemeName = scheme.name;
    report.perplexity = r.perplexity;
    report.klDivergence = r.klDivergence;
    report.top1Agreement = r.top1Agreement;
    return report;
}

} // namespace qs
