// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/sensitivity.h"

#include "error.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "models/block.h"
#include "models/model_config.h"
#include "runtime/chunked_scorer.h"
#include "runtime/eval_data.h"
#include "runtime/fake_quant.h"
#include "runtime/hidden_states.h"
#include "runtime/memory.h"
#include "runtime/perplexity.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

namespace qs {
namespace {

double squaredNorm(const at::Tensor& x)
{
    return x.pow(2).sum(at::kDouble).item<double>();
}

double squaredDistance(const at::Tensor& a, const at::Tensor& b)
{
    return (a - b).pow(2).sum(at::kDouble).item<double>();
}

// The layers whose all-modules stream runs to the output in block mode.
std::set<std::int64_t> probedLayers(std::int64_t layers, int probes)
{
    const std::int64_t n = std::min<std::int64_t>(layers, probes > 0 ? probes : 8);
    std::set<std::int64_t> out;
    if (n <= 1) {
        out.insert(layers - 1);
        return out;
    }
    for (std::int64_t i = 0; i < n; ++i)
        out.insert(static_cast<std::int64_t>(std::llround(static_cast<double>(i * (layers - 1)) / static_cast<double>(n - 1))));
    return out;
}

// A stream perturbed in one layer that runs on to the output: one module (exact mode) or every
// module of the layer (a probe).
struct Perturbed
{
    std::size_t scheme = 0;
    std::int64_t layer = 0;
    std::string module; // empty: the probe of the layer
    std::unique_ptr<HiddenStates> states;
    double blockError = 0; // squared distance at its layer's output (normalised later)
    PerplexitySums sums;
};

// The quantized weights and activation hooks of one layer's modules, per scheme.
struct LayerCandidates
{
    std::vector<std::string> modules; // the layer's measured modules, in order
    std::map<std::string, at::Tensor> floatWeights;
    std::vector<std::map<std::string, at::Tensor>> quantized; // per scheme
    std::vector<LinearInputHook> activations; // per scheme (empty: none)
};

// A hook applied to `modules` only.
LinearInputHook only(const LinearInputHook& hook, std::set<std::string> modules)
{
    if (!hook)
        return {};
    return [hook, modules = std::move(modules)](const std::string& module, const at::Tensor& x) {
        return modules.count(module) ? hook(module, x) : x;
    };
}

// One block-sequential pass: the float stream and the perturbed ones, layer by layer, then the head.
class SensitivityPass
{
public:
    SensitivityPass(const Checkpoint& checkpoint, const SensitivityRequest& request, Progress& progress);
    SensitivityReport run();

private:
    void planMemory();
    LayerCandidates candidates(Block& block, const std::vector<std::string>& modules);
    void runLayer(std::int64_t layer);
    std::unique_ptr<HiddenStates> headInputs(const Head& head, HiddenStates& states);
    void scoreHead();
    void finishFigures();

    const Checkpoint& m_checkpoint;
    const SensitivityRequest& m_request;
    Progress& m_progress;
    std::vector<QuantScheme> m_schemes;
    bool m_exact = false;
    ModelConfig m_config;
    std::unique_ptr<ModelBlocks> m_blocks;
    std::vector<ScoredPass> m_passes;
    std::set<std::string> m_quantizable;
    std::set<std::int64_t> m_probed;
    std::uint64_t m_stateBudget = 0; // resident bytes per stream
    std::unique_ptr<HiddenStates> m_float;
    std::vector<std::unique_ptr<Perturbed>> m_perturbed;
    std::vector<ModuleSensitivity> m_measured; // per layer, scheme, module
    std::map<std::int64_t, double> m_layerNorm; // squared norm of the float layer output
    ProgressUpdate m_update;
    SensitivityReport m_report;
};

SensitivityPass::SensitivityPass(const Checkpoint& checkpoint, const SensitivityRequest& request, Progress& progress)
    : m_checkpoint(checkpoint)
    , m_request(request)
    , m_progress(progress)
{
    const EvaluationRequest& er = request.evaluation;
    m_schemes = request.candidates;
    if (m_schemes.empty()) {
        if (!er.scheme)
            throw UsageError("sensitivity is measured for a quantization scheme: give one");
        m_schemes.push_back(*er.scheme);
    }
    for (QuantScheme& s : m_schemes) {
        if (!er.activations.empty())
            s.activations = er.activations;
        s.validate();
    }
    if (request.mode != "block" && request.mode != "exact")
        throw UsageError("unknown sensitivity mode '" + request.mode + "' (block or exact)");
    m_exact = request.mode == "exact";

    m_config = modelConfigFromJson(checkpoint.config());
    const PerplexityOptions options = evaluationPerplexityOptions(checkpoint, m_config, er);
    m_blocks = ModelBlocks::open(checkpoint, m_config);
    m_passes = scoredPasses(m_config, loadEvalTokens(er.data, checkpoint, m_config.vocabSize), options);
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    for (int m : tree.quantizable())
        m_quantizable.insert(tree.node(m).path);
    for (const std::string& head : m_blocks->headModules())
        m_quantizable.erase(head);
    m_report.mode = request.mode;
    for (const QuantScheme& s : m_schemes)
        m_report.schemes.push_back(s.name);
    if (!m_exact)
        m_probed = probedLayers(m_blocks->layerCount(), request.probes);
    planMemory();
}

// One layer in float32 and one quantized copy of its weights per scheme, and the hidden states of
// the float stream and of every perturbed stream (beyond the budget they spill).
void SensitivityPass::planMemory()
{
    const EvaluationRequest& er = m_request.evaluation;
    std::uint64_t largest = 0;
    for (std::int64_t i = 0; i < m_blocks->layerCount(); ++i)
        largest = std::max(largest, m_blocks->layerBytes(i));
    const std::uint64_t limit = er.maxMemory > 0 ? er.maxMemory : defaultMemoryLimit();
    const std::uint64_t headBytes = std::uint64_t(128) << 20;
    const std::uint64_t needed
        = currentRssBytes() + largest * (1 + m_schemes.size()) + headBytes + (std::uint64_t(64) << 20);
    if (needed > limit)
        throw UsageError("the memory limit of " + formatBytes(limit) + " cannot hold a layer of " + formatBytes(largest)
            + " in float32 with its quantized copies for " + std::to_string(m_schemes.size())
            + " scheme(s); allow at least " + formatBytes(needed));
    const std::size_t streams
        = 1 + (m_exact ? m_quantizable.size() : m_probed.size()) * m_schemes.size();
    m_stateBudget = (limit - needed) / streams;
}

LayerCandidates SensitivityPass::candidates(Block& block, const std::vector<std::string>& modules)
{
    LayerCandidates out;
    out.modules = modules;
    for (const std::string& m : modules)
        out.floatWeights[m] = block.projection(m)->weight;
    out.quantized.resize(m_schemes.size());
    out.activations.resize(m_schemes.size());
    const auto ranges = std::make_shared<ActivationRanges>();
    bool ranged = false;
    for (std::size_t c = 0; c < m_schemes.size(); ++c) {
        const WeightTransform q = fakeQuantizeWeights(m_schemes[c], {});
        for (const std::string& m : modules)
            out.quantized[c][m] = q(m, out.floatWeights[m]);
        out.activations[c] = fakeQuantizeActivations(m_schemes[c], {}, ranges);
        ranged = ranged || isStaticActivations(m_schemes[c].activations);
    }
    if (ranged) { // static ranges from the float inputs of this layer on the data
        const LinearInputHook observe = activationRangeObserver(ranges);
        for (std::size_t s = 0; s < m_passes.size(); ++s) {
            m_progress.checkCancelled();
            block.forward(m_float->get(s), 0, BlockHooks { observe, {}, {} });
        }
    }
    return out;
}

void SensitivityPass::runLayer(std::int64_t layer)
{
    m_update.current = m_blocks->layerName(layer);
    m_progress.report(m_update);
    m_progress.checkCancelled();
    const std::unique_ptr<Block> block = m_blocks->loadLayer(layer);
    m_blocks->release(*block);
    std::vector<std::string> names;
    for (const Projection* p : block->projections()) {
        if (m_quantizable.count(p->module))
            names.push_back(p->module);
    }
    LayerCandidates lc = candidates(*block, names);
    const std::vector<std::string>& modules = lc.modules;
    const std::size_t n = modules.size(), schemes = m_schemes.size();
    auto withWeights = [&](std::size_t c, const std::vector<std::string>& swapped, const at::Tensor& x,
                           const LinearInputHook& hook) {
        for (const std::string& m : swapped)
            block->replaceWeight(m, lc.quantized[c][m]);
        at::Tensor y = block->forward(x, 0, BlockHooks { hook, {}, {} });
        for (const std::string& m : swapped)
            block->replaceWeight(m, lc.floatWeights[m]);
        return y;
    };
    // The streams this layer starts: one per module (exact) or the layer's probe.
    const std::size_t firstNew = m_perturbed.size();
    auto newStates = [&] {
        std::vector<std::int64_t> lengths;
        for (const ScoredPass& p : m_passes)
            lengths.push_back(static_cast<std::int64_t>(p.input.size()));
        return std::make_unique<HiddenStates>(lengths, m_config.hidden, m_stateBudget, m_request.evaluation.spillDirectory);
    };
    for (std::size_t c = 0; c < schemes; ++c) {
        if (m_exact) {
            for (const std::string& m : modules)
                m_perturbed.push_back(std::make_unique<Perturbed>(Perturbed { c, layer, m, newStates(), 0, {} }));
        } else if (m_probed.count(layer)) {
            m_perturbed.push_back(std::make_unique<Perturbed>(Perturbed { c, layer, {}, newStates(), 0, {} }));
        }
    }
    std::vector<std::vector<double>> local(schemes, std::vector<double>(n, 0.0)), own = local;
    std::vector<double> ownNorm(n, 0.0);
    double norm = 0;
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < n; ++i)
        index[modules[i]] = i;
    // Each module's own output error under every scheme, on its float input.
    BlockHooks hooks;
    hooks.output = [&](const std::string& module, const at::Tensor& input, const at::Tensor& output) {
        const auto it = index.find(module);
        if (it == index.end())
            return;
        const Projection* p = block->projection(module);
        ownNorm[it->second] += squaredNorm(output);
        for (std::size_t c = 0; c < schemes; ++c) {
            const at::Tensor in = lc.activations[c] ? lc.activations[c](module, input) : input;
            at::Tensor out = at::matmul(in, lc.quantized[c][module].t());
            if (p->bias.defined())
                out = out + p->bias;
            own[c][it->second] += squaredDistance(out, output);
        }
    };
    for (std::size_t s = 0; s < m_passes.size(); ++s) {
        m_progress.checkCancelled();
        const at::Tensor x = m_float->get(s);
        const at::Tensor y = block->forward(x, 0, hooks);
        norm += squaredNorm(y);
        for (std::size_t c = 0; c < schemes; ++c) {
            for (std::size_t i = 0; i < n; ++i) {
                const at::Tensor yq = withWeights(c, { modules[i] }, x, only(lc.activations[c], { modules[i] }));
                local[c][i] += squaredDistance(yq, y);
                if (m_exact)
                    m_perturbed[firstNew + c * n + i]->states->put(s, yq);
            }
        }
        for (std::size_t k = 0; k < m_perturbed.size(); ++k) {
            Perturbed& p = *m_perturbed[k];
            if (k < firstNew) {
                p.states->put(s, block->forward(p.states->get(s), 0, {}));
            } else if (!m_exact) {
                const at::Tensor yq = withWeights(
                    p.scheme, modules, x, only(lc.activations[p.scheme], std::set<std::string>(modules.begin(), modules.end())));
                p.blockError += squaredDistance(yq, y);
                p.states->put(s, yq);
            }
        }
        m_float->put(s, y);
    }
    m_layerNorm[layer] = norm;
    for (std::size_t c = 0; c < schemes; ++c) {
        for (std::size_t i = 0; i < n; ++i) {
            ModuleSensitivity m;
            m.name = modules[i];
            m.block = block->name();
            m.scheme = m_schemes[c].name;
            m.blockError = norm > 0 ? local[c][i] / norm : 0;
            m.estimate = ownNorm[i] > 0 ? own[c][i] / ownNorm[i] : 0;
            m_measured.push_back(m);
        }
    }
    const std::uint64_t bytes = block->bytes() * (1 + schemes);
    lc = LayerCandidates {};
    returnFreedMemory(bytes);
    ++m_update.stepsDone;
    m_progress.report(m_update);
}

std::unique_ptr<HiddenStates> SensitivityPass::headInputs(const Head& head, HiddenStates& states)
{
    std::vector<std::int64_t> counts;
    for (const ScoredPass& p : m_passes)
        counts.push_back(static_cast<std::int64_t>(p.rows.size()));
    auto inputs = std::make_unique<HiddenStates>(counts, m_config.hidden, m_stateBudget, m_request.evaluation.spillDirectory);
    for (std::size_t s = 0; s < m_passes.size(); ++s) {
        m_progress.checkCancelled();
        inputs->put(s, head.prologue(states.get(s), {}).index_select(0, at::tensor(m_passes[s].rows, at::kLong)));
    }
    return inputs;
}

// The head, chunk by chunk of the vocabulary: the float stream is the reference of every perturbed one.
void SensitivityPass::scoreHead()
{
    m_update.current = "head";
    m_progress.report(m_update);
    const std::unique_ptr<Head> head = m_blocks->loadHead();
    const std::unique_ptr<HiddenStates> floatInputs = headInputs(*head, *m_float);
    m_float.reset();
    std::vector<std::unique_ptr<HiddenStates>> inputs;
    for (auto& p : m_perturbed) {
        inputs.push_back(headInputs(*head, *p->states));
        p->states.reset();
    }
    const std::size_t passes = m_passes.size();
    std::vector<std::vector<std::unique_ptr<ChunkedScorer>>> scorers(m_perturbed.size());
    for (auto& row : scorers)
        row.resize(passes);
    PerplexitySums floatSums;
    std::vector<std::unique_ptr<ChunkedScorer>> floatScorers(passes);
    const std::int64_t step = head->chunkRows(std::uint64_t(64) << 20);
    for (std::int64_t begin = 0; begin < head->vocab(); begin += step) {
        const std::int64_t end = std::min(head->vocab(), begin + step);
        const HeadChunk chunk = head->chunk(begin, end);
        const bool last = end == head->vocab();
        for (std::size_t s = 0; s < passes; ++s) {
            m_progress.checkCancelled();
            const at::Tensor reference = chunk.logits(floatInputs->get(s));
            auto& fs = floatScorers[s];
            if (!fs)
                fs = std::make_unique<ChunkedScorer>(m_passes[s].targets, false);
            fs->add(begin, reference);
            if (last) {
                floatSums.addChunked(m_passes[s], fs->nll(), fs->nll(), 0, 0);
                fs.reset();
            }
            for (std::size_t k = 0; k < m_perturbed.size(); ++k) {
                auto& scorer = scorers[k][s];
                if (!scorer)
                    scorer = std::make_unique<ChunkedScorer>(m_passes[s].targets, true);
                scorer->add(begin, chunk.logits(inputs[k]->get(s)), reference);
                if (last) {
                    m_perturbed[k]->sums.addChunked(
                        m_passes[s], scorer->nll(), scorer->referenceNll(), scorer->kl(), scorer->agreements());
                    scorer.reset();
                }
            }
        }
        head->release();
    }
    PerplexityResult floatResult;
    floatSums.finish(floatResult);
    m_report.floatMeanNll = floatResult.meanNll;
    m_report.floatPerplexity = floatResult.perplexity;
    m_report.tokens = floatResult.tokens;
    for (std::size_t i = 0; i < passes; ++i)
        m_report.windows += i == 0 || m_passes[i].window != m_passes[i - 1].window ? 1 : 0;
}

// Exact mode: every module's stream's figures. Block mode: the probes' KL per unit of layer-output
// error, interpolated (in log space) between the probed layers around a module's; a probe's NLL
// change is the sum of many small per-token changes of both signs (noisy at one layer's error) while
// its KL is not, so a module's NLL change is its KL times the ratio of NLL change to KL over all
// probes of its scheme.
void SensitivityPass::finishFigures()
{
    std::map<std::pair<std::size_t, std::string>, std::pair<double, double>> exactFigures; // (scheme, module)
    std::map<std::pair<std::size_t, std::int64_t>, double> klGain; // (scheme, layer)
    std::map<std::size_t, std::pair<double, double>> probeTotals; // scheme -> (sum delta loss, sum KL)
    for (const auto& p : m_perturbed) {
        PerplexityResult r;
        r.compared = true;
        p->sums.finish(r);
        const double deltaLoss = r.meanNll - m_report.floatMeanNll;
        if (m_exact) {
            exactFigures[{ p->scheme, p->module }] = { deltaLoss, r.klDivergence };
            continue;
        }
        const double norm = m_layerNorm[p->layer];
        const double error = norm > 0 ? p->blockError / norm : 0;
        m_report.probes.push_back(
            { m_blocks->layerName(p->layer), m_schemes[p->scheme].name, deltaLoss, r.klDivergence, error });
        klGain[{ p->scheme, p->layer }] = error > 0 ? r.klDivergence / error : 0;
        probeTotals[p->scheme].first += deltaLoss;
        probeTotals[p->scheme].second += r.klDivergence;
    }
    std::map<std::string, std::int64_t> layerOf;
    for (std::int64_t i = 0; i < m_blocks->layerCount(); ++i)
        layerOf[m_blocks->layerName(i)] = i;
    std::map<std::string, std::size_t> schemeIndex;
    for (std::size_t c = 0; c < m_schemes.size(); ++c)
        schemeIndex[m_schemes[c].name] = c;
    for (ModuleSensitivity& m : m_measured) {
        const std::size_t c = schemeIndex[m.scheme];
        if (m_exact) {
            const auto& f = exactFigures[{ c, m.name }];
            m.deltaLoss = f.first;
            m.kl = f.second;
            m.measured = true;
            continue;
        }
        const std::int64_t layer = layerOf[m.block];
        std::int64_t below = -1, above = -1;
        for (std::int64_t l : m_probed) {
            if (l <= layer)
                below = l;
            if (l >= layer && above < 0)
                above = l;
        }
        below = below < 0 ? above : below;
        above = above < 0 ? below : above;
        const double g0 = klGain[{ c, below }], g1 = klGain[{ c, above }];
        const double t = above == below ? 0.0 : static_cast<double>(layer - below) / static_cast<double>(above - below);
        const double gain = g0 > 0 && g1 > 0 ? std::exp(std::log(g0) + t * (std::log(g1) - std::log(g0))) : g0 + t * (g1 - g0);
        m.kl = gain * m.blockError;
        const auto& totals = probeTotals[c];
        m.deltaLoss = totals.second > 0 ? m.kl * std::max(0.0, totals.first) / totals.second : 0;
    }
}

SensitivityReport SensitivityPass::run()
{
    const auto started = std::chrono::steady_clock::now();
    m_update.stepsTotal = m_blocks->layerCount() + 2;
    m_update.current = "embeddings";
    m_progress.report(m_update);
    std::vector<std::int64_t> lengths;
    for (const ScoredPass& p : m_passes)
        lengths.push_back(static_cast<std::int64_t>(p.input.size()));
    m_float = std::make_unique<HiddenStates>(lengths, m_config.hidden, m_stateBudget, m_request.evaluation.spillDirectory);
    for (std::size_t s = 0; s < m_passes.size(); ++s) {
        m_progress.checkCancelled();
        m_float->put(s, m_blocks->embed(m_passes[s].input));
    }
    m_blocks->releaseEmbeddings();
    ++m_update.stepsDone;
    for (std::int64_t layer = 0; layer < m_blocks->layerCount(); ++layer)
        runLayer(layer);
    scoreHead();
    finishFigures();
    m_report.modules = std::move(m_measured);
    m_report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    m_report.peakRssBytes = peakRssBytes();
    ++m_update.stepsDone;
    m_progress.report(m_update);
    return std::move(m_report);
}

} // namespace

SensitivityReport measureSensitivity(const Checkpoint& checkpoint, const SensitivityRequest& request, Progress& progress)
{
    return SensitivityPass(checkpoint, request, progress).run();
}

} // namespace qs
