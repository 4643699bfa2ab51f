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

} // namespace

SensitivityReport measureSensitivity(const Checkpoint& checkpoint, const SensitivityRequest& request, Progress& progress)
{
    const auto started = std::chrono::steady_clock::now();
    const EvaluationRequest& er = request.evaluation;
    std::vector<QuantScheme> schemes = request.candidates;
    if (schemes.empty()) {
        if (!er.scheme)
            throw UsageError("sensitivity is measured for a quantization scheme: give one");
        schemes.push_back(*er.scheme);
    }
    for (QuantScheme& s : schemes) {
        if (!er.activations.empty())
            s.activations = er.activations;
        s.validate();
    }
    if (request.mode != "block" && request.mode != "exact")
        throw UsageError("unknown sensitivity mode '" + request.mode + "' (block or exact)");
    const bool exact = request.mode == "exact";

    const ModelConfig config = modelConfigFromJson(checkpoint.config());
    const PerplexityOptions options = evaluationPerplexityOptions(checkpoint, config, er);
    const std::unique_ptr<ModelBlocks> blocks = ModelBlocks::open(checkpoint, config);
    const std::vector<std::int64_t> ids = loadEvalTokens(er.data, checkpoint, config.vocabSize);
    const std::vector<ScoredPass> passes = scoredPasses(config, ids, options);
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    std::set<std::string> quantizable;
    for (int m : tree.quantizable())
        quantizable.insert(tree.node(m).path);
    for (const std::string& head : blocks->headModules())
        quantizable.erase(head);

    SensitivityReport report;
    report.mode = request.mode;
    for (const QuantScheme& s : schemes)
        report.schemes.push_back(s.name);
    const std::int64_t layers = blocks->layerCount();
    const std::set<std::int64_t> probed = exact ? std::set<std::int64_t>() : probedLayers(layers, request.probes);

    // Memory: one layer in float32 and one quantized copy of its weights per scheme, the hidden
    // states of the float stream and of every perturbed stream (beyond the budget they spill).
    std::uint64_t largest = 0;
    for (std::int64_t i = 0; i < layers; ++i)
        largest = std::max(largest, blocks->layerBytes(i));
    const std::uint64_t limit = er.maxMemory > 0 ? er.maxMemory : defaultMemoryLimit();
    const std::uint64_t headBytes = std::uint64_t(128) << 20;
    const std::uint64_t needed = currentRssBytes() + largest * (1 + schemes.size()) + headBytes + (std::uint64_t(64) << 20);
    if (needed > limit)
        throw UsageError("the memory limit of " + formatBytes(limit) + " cannot hold a layer of " + formatBytes(largest)
            + " in float32 with its quantized copies for " + std::to_string(schemes.size())
            + " scheme(s); allow at least " + formatBytes(needed));
    std::vector<std::int64_t> lengths;
    for (const ScoredPass& p : passes)
        lengths.push_back(static_cast<std::int64_t>(p.input.size()));
    const std::size_t streamCount = 1 + (exact ? quantizable.size() * schemes.size() : probed.size() * schemes.size());
    const std::uint64_t budget = (limit - needed) / streamCount;
    auto newStates = [&] { return std::make_unique<HiddenStates>(lengths, config.hidden, budget, er.spillDirectory); };
    HiddenStates floatStates(lengths, config.hidden, budget, er.spillDirectory);
    std::vector<std::unique_ptr<Perturbed>> perturbed;

    ProgressUpdate update;
    update.stepsTotal = layers + 2;
    update.current = "embeddings";
    progress.report(update);
    for (std::size_t s = 0; s < passes.size(); ++s) {
        progress.checkCancelled();
        floatStates.put(s, blocks->embed(passes[s].input));
    }
    blocks->releaseEmbeddings();
    ++update.stepsDone;

    std::vector<ModuleSensitivity> measured; // per layer, scheme, module
    std::map<std::int64_t, double> layerNorm; // squared norm of the float layer output
    for (std::int64_t layer = 0; layer < layers; ++layer) {
        update.current = blocks->layerName(layer);
        progress.report(update);
        progress.checkCancelled();
        const std::unique_ptr<Block> block = blocks->loadLayer(layer);
        blocks->release(*block);
        // The layer's quantizable modules, and their weights per scheme.
        std::vector<std::string> modules;
        std::map<std::string, at::Tensor> floatWeights;
        for (const Projection* p : block->projections()) {
            if (quantizable.count(p->module)) {
                modules.push_back(p->module);
                floatWeights[p->module] = p->weight;
            }
        }
        std::vector<std::map<std::string, at::Tensor>> quantized(schemes.size());
        std::vector<LinearInputHook> activationHooks(schemes.size());
        const auto ranges = std::make_shared<ActivationRanges>();
        bool ranged = false;
        for (std::size_t c = 0; c < schemes.size(); ++c) {
            const WeightTransform q = fakeQuantizeWeights(schemes[c], {});
            for (const std::string& m : modules)
                quantized[c][m] = q(m, floatWeights[m]);
            activationHooks[c] = fakeQuantizeActivations(schemes[c], {}, ranges);
            ranged = ranged || isStaticActivations(schemes[c].activations);
        }
        if (ranged) { // static ranges from the float inputs of this layer on the data
            const LinearInputHook observe = activationRangeObserver(ranges);
            for (std::size_t s = 0; s < passes.size(); ++s) {
                progress.checkCancelled();
                block->forward(floatStates.get(s), 0, BlockHooks { observe, {}, {} });
            }
        }
        auto only = [](const LinearInputHook& hook, std::set<std::string> modules) -> LinearInputHook {
            if (!hook)
                return {};
            return [hook, modules = std::move(modules)](const std::string& module, const at::Tensor& x) {
                return modules.count(module) ? hook(module, x) : x;
            };
        };
        auto withWeights = [&](std::size_t c, const std::vector<std::string>& swapped, const at::Tensor& x,
                               const LinearInputHook& hook) {
            for (const std::string& m : swapped)
                block->replaceWeight(m, quantized[c][m]);
            at::Tensor y = block->forward(x, 0, BlockHooks { hook, {}, {} });
            for (const std::string& m : swapped)
                block->replaceWeight(m, floatWeights[m]);
            return y;
        };
        // New perturbed streams of this layer.
        const std::size_t firstNew = perturbed.size();
        for (std::size_t c = 0; c < schemes.size(); ++c) {
            if (exact) {
                for (const std::string& m : modules)
                    perturbed.push_back(std::make_unique<Perturbed>(Perturbed { c, layer, m, newStates(), 0, {} }));
            } else if (probed.count(layer)) {
                perturbed.push_back(std::make_unique<Perturbed>(Perturbed { c, layer, {}, newStates(), 0, {} }));
            }
        }
        std::vector<std::vector<double>> local(schemes.size(), std::vector<double>(modules.size(), 0.0));
        std::vector<std::vector<double>> own(schemes.size(), std::vector<double>(modules.size(), 0.0));
        double norm = 0;
        std::map<std::string, std::size_t> moduleIndex;
        for (std::size_t i = 0; i < modules.size(); ++i)
            moduleIndex[modules[i]] = i;
        for (std::size_t s = 0; s < passes.size(); ++s) {
            progress.checkCancelled();
            const at::Tensor x = floatStates.get(s);
            // The float layer, with each module's own error under every scheme on its float input.
            BlockHooks hooks;
            hooks.output = [&](const std::string& module, const at::Tensor& input, const at::Tensor& output) {
                const auto it = moduleIndex.find(module);
                if (it == moduleIndex.end())
                    return;
                const Projection* p = block->projection(module);
                for (std::size_t c = 0; c < schemes.size(); ++c) {
                    const at::Tensor in = activationHooks[c] ? activationHooks[c](module, input) : input;
                    at::Tensor out = at::matmul(in, quantized[c][module].t());
                    if (p->bias.defined())
                        out = out + p->bias;
                    own[c][it->second] += squaredDistance(out, output);
                }
            };
            const at::Tensor y = block->forward(x, 0, hooks);
            norm += squaredNorm(y);
            for (std::size_t c = 0; c < schemes.size(); ++c) {
                for (std::size_t i = 0; i < modules.size(); ++i) {
                    const at::Tensor yq = withWeights(c, { modules[i] }, x, only(activationHooks[c], { modules[i] }));
                    local[c][i] += squaredDistance(yq, y);
                    if (exact) {
                        Perturbed& p = *perturbed[firstNew + c * modules.size() + i];
                        p.states->put(s, yq);
                        p.blockError += squaredDistance(yq, y);
                    }
                }
            }
            for (std::size_t k = 0; k < perturbed.size(); ++k) {
                Perturbed& p = *perturbed[k];
                if (k < firstNew)
                    p.states->put(s, block->forward(p.states->get(s), 0, {}));
                else if (!exact) {
                    const at::Tensor yq = withWeights(p.scheme, modules, x,
                        only(activationHooks[p.scheme], std::set<std::string>(modules.begin(), modules.end())));
                    p.blockError += squaredDistance(yq, y);
                    p.states->put(s, yq);
                }
            }
            floatStates.put(s, y);
        }
        layerNorm[layer] = norm;
        for (std::size_t c = 0; c < schemes.size(); ++c) {
            for (std::size_t i = 0; i < modules.size(); ++i) {
                ModuleSensitivity m;
                m.name = modules[i];
                m.block = block->name();
                m.scheme = schemes[c].name;
                m.blockError = norm > 0 ? local[c][i] / norm : 0;
                m.estimate = norm > 0 ? own[c][i] / norm : 0;
                measured.push_back(m);
            }
        }
        const std::uint64_t bytes = block->bytes() * (1 + schemes.size());
        quantized.clear();
        floatWeights.clear();
        returnFreedMemory(bytes);
        ++update.stepsDone;
        progress.report(update);
    }

    // The head: the float stream is the reference of every perturbed one.
    update.current = "head";
    progress.report(update);
    const std::unique_ptr<Head> head = blocks->loadHead();
    std::vector<std::int64_t> counts;
    for (const ScoredPass& p : passes)
        counts.push_back(static_cast<std::int64_t>(p.rows.size()));
    auto headInputs = [&](HiddenStates& states) {
        auto inputs = std::make_unique<HiddenStates>(counts, config.hidden, budget, er.spillDirectory);
        for (std::size_t s = 0; s < passes.size(); ++s) {
            progress.checkCancelled();
            inputs->put(s, head->prologue(states.get(s), {}).index_select(0, at::tensor(passes[s].rows, at::kLong)));
        }
        return inputs;
    };
    const std::unique_ptr<HiddenStates> floatInputs = headInputs(floatStates);
    std::vector<std::unique_ptr<HiddenStates>> inputs;
    for (auto& p : perturbed) {
        inputs.push_back(headInputs(*p->states));
        p->states.reset();
    }
    std::vector<std::vector<std::unique_ptr<ChunkedScorer>>> scorers(perturbed.size());
    for (auto& row : scorers)
        row.resize(passes.size());
    PerplexitySums floatSums;
    std::vector<std::unique_ptr<ChunkedScorer>> floatScorers(passes.size());
    const std::int64_t step = head->chunkRows(std::uint64_t(64) << 20);
    for (std::int64_t begin = 0; begin < head->vocab(); begin += step) {
        const std::int64_t end = std::min(head->vocab(), begin + step);
        const HeadChunk chunk = head->chunk(begin, end);
        const bool last = end == head->vocab();
        for (std::size_t s = 0; s < passes.size(); ++s) {
            progress.checkCancelled();
            const at::Tensor reference = chunk.logits(floatInputs->get(s));
            auto& fs = floatScorers[s];
            if (!fs)
                fs = std::make_unique<ChunkedScorer>(passes[s].targets, false);
            fs->add(begin, reference);
            if (last) {
                floatSums.addChunked(passes[s], fs->nll(), fs->nll(), 0, 0);
                fs.reset();
            }
            for (std::size_t k = 0; k < perturbed.size(); ++k) {
                auto& scorer = scorers[k][s];
                if (!scorer)
                    scorer = std::make_unique<ChunkedScorer>(passes[s].targets, true);
                scorer->add(begin, chunk.logits(inputs[k]->get(s)), reference);
                if (last) {
                    perturbed[k]->sums.addChunked(
                        passes[s], scorer->nll(), scorer->referenceNll(), scorer->kl(), scorer->agreements());
                    scorer.reset();
                }
            }
        }
        head->release();
    }
    PerplexityResult floatResult;
    floatSums.finish(floatResult);
    report.floatMeanNll = floatResult.meanNll;
    report.floatPerplexity = floatResult.perplexity;
    report.tokens = floatResult.tokens;
    for (std::size_t i = 0; i < passes.size(); ++i)
        report.windows += i == 0 || passes[i].window != passes[i - 1].window ? 1 : 0;

    // Per perturbed stream: its loss change and KL.
    std::map<std::pair<std::size_t, std::string>, std::pair<double, double>> exactFigures; // (scheme, module)
    std::map<std::pair<std::size_t, std::int64_t>, std::pair<double, double>> probeGain; // per unit of block error
    for (const auto& p : perturbed) {
        PerplexityResult r;
        r.compared = true;
        p->sums.finish(r);
        const double deltaLoss = r.meanNll - report.floatMeanNll;
        if (exact) {
            exactFigures[{ p->scheme, p->module }] = { deltaLoss, r.klDivergence };
        } else {
            const double norm = layerNorm[p->layer];
            const double error = norm > 0 ? p->blockError / norm : 0;
            report.probes.push_back({ blocks->layerName(p->layer), schemes[p->scheme].name, deltaLoss, r.klDivergence, error });
            probeGain[{ p->scheme, p->layer }]
                = { error > 0 ? deltaLoss / error : 0, error > 0 ? r.klDivergence / error : 0 };
        }
    }
    std::map<std::string, std::int64_t> layerOf;
    for (std::int64_t i = 0; i < layers; ++i)
        layerOf[blocks->layerName(i)] = i;
    std::map<std::string, std::size_t> schemeIndex;
    for (std::size_t c = 0; c < schemes.size(); ++c)
        schemeIndex[schemes[c].name] = c;
    // Block mode's loss change: a probe's NLL change is the sum of many small per-token changes of
    // both signs (noisy at one layer's worth of error), while its KL is not; so a module's NLL change is
    // its predicted KL times the ratio of NLL change to KL over all probes of its scheme.
    std::map<std::size_t, std::pair<double, double>> probeTotals; // scheme -> (sum delta loss, sum KL)
    for (const auto& p : perturbed) {
        if (!exact) {
            const auto& gain = probeGain[{ p->scheme, p->layer }];
            const double norm = layerNorm[p->layer];
            const double error = norm > 0 ? p->blockError / norm : 0;
            probeTotals[p->scheme].first += gain.first * error;
            probeTotals[p->scheme].second += gain.second * error;
        }
    }
    for (ModuleSensitivity& m : measured) {
        const std::size_t c = schemeIndex[m.scheme];
        if (exact) {
            const auto& f = exactFigures[{ c, m.name }];
            m.deltaLoss = f.first;
            m.kl = f.second;
            m.measured = true;
            continue;
        }
        // The gain at this depth: the probed layers around it, interpolated (KL in log space).
        const std::int64_t layer = layerOf[m.block];
        std::int64_t below = -1, above = -1;
        for (std::int64_t l : probed) {
            if (l <= layer)
                below = l;
            if (l >= layer && above < 0)
                above = l;
        }
        if (below < 0)
            below = above;
        if (above < 0)
            above = below;
        const auto& g0 = probeGain[{ c, below }];
        const auto& g1 = probeGain[{ c, above }];
        const double t = above == below ? 0.0 : static_cast<double>(layer - below) / static_cast<double>(above - below);
        const double klGain = g0.second > 0 && g1.second > 0
            ? std::exp(std::log(g0.second) + t * (std::log(g1.second) - std::log(g0.second)))
            : g0.second + t * (g1.second - g0.second);
        m.kl = klGain * m.blockError;
        const auto& totals = probeTotals[c];
        m.deltaLoss = totals.second > 0 ? m.kl * std::max(0.0, totals.first) / totals.second : 0;
    }
    report.modules = std::move(measured);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report.peakRssBytes = peakRssBytes();
    ++update.stepsDone;
    progress.report(update);
    return report;
}

} // namespace qs
