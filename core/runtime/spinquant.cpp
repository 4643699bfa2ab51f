// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/spinquant.h"

#include "algo/cayley.h"
#include "error.h"
#include "models/block.h"
#include "models/model_config.h"
#include "runtime/fake_quant.h"
#include "runtime/memory.h"
#include "runtime/rotated_layer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

namespace qs {
namespace {

bool endsWith(const std::string& s, const std::string& suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class Learner
{
public:
    Learner(const Checkpoint& checkpoint, const std::vector<std::vector<std::int64_t>>& samples,
        const SpinQuantSettings& settings, Progress& progress)
        : m_samples(samples)
        , m_settings(settings)
        , m_progress(progress)
        , m_config(modelConfigFromJson(checkpoint.config()))
    {
        const ModelConfig& c = m_config;
        if (c.family != ModelFamily::Llama)
            throw UsageError("SpinQuant learns the rotations of the Llama family (Llama, Mistral, Qwen2, Granite), not of a "
                + c.modelType + " model");
        if (samples.empty())
            throw UsageError("SpinQuant needs calibration samples to learn on");
        for (const auto& s : samples) {
            if (s.size() < 2)
                throw UsageError("SpinQuant's calibration samples need at least two tokens (one predicted)");
        }
        if (settings.steps < 1)
            throw UsageError("SpinQuant needs at least one step (--spinquant-steps)");
        if (!(settings.lr > 0) || !std::isfinite(settings.lr))
            throw UsageError("SpinQuant's learning rate must be positive (--spinquant-lr)");
        if (settings.scheme && isStaticActivations(settings.scheme->activations))
            throw UsageError("SpinQuant learns with dynamic activation quantization, and " + settings.scheme->activations
                + " measures its scales on the model: learn with the weights only (or a dynamic mode), the scales "
                  "are measured on the rotated model after");
        m_blocks = ModelBlocks::open(checkpoint, c);
        m_head = m_blocks->loadHead();
        if (settings.scheme) {
            if (settings.quantizeWeights)
                m_weights = fakeQuantizeWeights(*settings.scheme, settings.kept, settings.moduleSchemes);
            std::set<std::string> kept = settings.kept;
            for (const std::string& m : m_blocks->headModules())
                kept.insert(m);
            m_activations = fakeQuantizeActivations(*settings.scheme, kept);
            if (!settings.quantized.empty()) {
                const std::set<std::string>& only = settings.quantized;
                if (m_weights)
                    m_weights = [only, inner = m_weights](const std::string& module, const at::Tensor& w) {
                        return only.count(module) ? inner(module, w) : w;
                    };
                if (m_activations)
                    m_activations = [only, inner = m_activations](const std::string& module, const at::Tensor& x) {
                        return only.count(module) ? inner(module, x) : x;
                    };
            }
        }
        if (settings.online)
            {
            RotationSettings fixed;
            fixed.kind = settings.start;
            fixed.seed = settings.seed;
            m_r4 = std::make_unique<Rotation>(onlineDownRotation(c, fixed));
        }
        m_hooks.input = [this](const std::string& module, const at::Tensor& x) { return layerInput(module, x); };
        m_batch = settings.batch > 0
            ? settings.batch
            : static_cast<int>((samples.size() + static_cast<std::size_t>(settings.steps) - 1)
                / static_cast<std::size_t>(settings.steps));
        m_batch = std::min<int>(m_batch, static_cast<int>(samples.size()));
        plan(checkpoint);
    }

    LearnedRotations learn(SpinQuantReport& report)
    {
        const auto started = std::chrono::steady_clock::now();
        const ModelConfig& c = m_config;
        at::Tensor r1 = Rotation::make(c.hidden, m_settings.start, m_settings.seed).matrix().to(at::kDouble);
        std::vector<at::Tensor> r2;
        if (m_settings.r2) {
            const at::Tensor start = Rotation::make(c.headDim, m_settings.start, m_settings.seed + 1).matrix();
            r2.assign(static_cast<std::size_t>(c.layers), start.to(at::kDouble));
        }
        const at::Tensor start1 = r1;
        const std::vector<at::Tensor> start2 = r2;
        report.steps = m_settings.steps;
        report.lr = m_settings.lr;
        report.samples = static_cast<int>(m_samples.size());
        report.batch = m_batch;
        for (const auto& s : m_samples)
            report.tokens += static_cast<std::int64_t>(s.size());
        report.weightsQuantized = static_cast<bool>(m_weights);
        report.activations = m_activations ? m_settings.scheme->activations : "none";
        report.plannedBytes = m_planned;

        m_total = m_settings.steps + 2;
        std::vector<std::size_t> all(m_samples.size());
        for (std::size_t i = 0; i < all.size(); ++i)
            all[i] = i;
        report.initialLoss = loss(all, r1, r2, "the start rotation");
        std::size_t next = 0;
        double stepSeconds = 0;
        for (int step = 0; step < m_settings.steps; ++step) {
            std::vector<std::size_t> batch;
            for (int i = 0; i < m_batch; ++i, next = (next + 1) % m_samples.size())
                batch.push_back(next);
            const auto stepStarted = std::chrono::steady_clock::now();
            report.losses.push_back(this->step(batch, r1, r2, report));
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stepStarted).count();
            stepSeconds += seconds;
            char text[160];
            std::snprintf(text, sizeof text, "SpinQuant step %d/%d: loss %.4f (%.1f s per step)", step + 1,
                m_settings.steps, report.losses.back(), seconds);
            m_progress.report({ ++m_done, m_total, 0, 0, text });
        }
        report.finalLoss = loss(all, r1, r2, "the learned rotation");
        if (!(report.finalLoss <= report.initialLoss)) {
            // Worse than where it started on all samples (a learning rate too large for this
            // model, too few samples): the start rotation is the better result.
            report.keptStart = true;
            r1 = start1;
            r2 = start2;
        }
        report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        report.secondsPerStep = stepSeconds / m_settings.steps;
        LearnedRotations out;
        out.r1 = r1.to(at::kFloat);
        for (const at::Tensor& r : r2)
            out.r2.push_back(r.to(at::kFloat));
        return out;
    }

private:
    // What a step holds: every layer's input for the step's tokens (and the gradient of one),
    // one layer's weights four times over (loaded, rotated, fake-quantized, their gradient), its
    // graph, R1 and its solve, a head chunk and its logits.
    void plan(const Checkpoint& checkpoint)
    {
        const ModelConfig& c = m_config;
        std::int64_t longest = 0, tokens = 0;
        for (const auto& s : m_samples)
            longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(s.size()));
        tokens = longest * m_batch;
        std::uint64_t largest = 0;
        for (std::int64_t l = 0; l < c.layers; ++l)
            largest = std::max(largest, m_blocks->layerBytes(l));
        const auto f = [](double values) { return static_cast<std::uint64_t>(values * 4); };
        const double h = static_cast<double>(c.hidden);
        const double perToken = 6 * h + 4.0 * static_cast<double>(c.heads * c.headDim)
            + 4.0 * static_cast<double>(c.kvHeads * c.headDim) + 7.0 * static_cast<double>(c.intermediate);
        const std::uint64_t states = f(static_cast<double>(c.layers + 2) * static_cast<double>(tokens) * h);
        const std::uint64_t graph = f(static_cast<double>(longest) * perToken
            + 4.0 * static_cast<double>(c.heads) * static_cast<double>(longest) * static_cast<double>(longest));
        const std::uint64_t rotations = f(8 * h * h);
        const std::uint64_t head = (std::uint64_t(64) << 20) * 3;
        m_planned = states + graph + rotations + head + 4 * largest + currentRssBytes();
        const std::uint64_t limit = m_settings.maxMemory > 0 ? m_settings.maxMemory : defaultMemoryLimit();
        if (m_planned > limit) {
            throw UsageError("SpinQuant on this model needs about " + formatBytes(m_planned) + " for "
                    + std::to_string(m_batch) + " sample(s) of up to " + std::to_string(longest)
                    + " tokens per step (the layer inputs of every layer: " + formatBytes(states)
                    + "; one layer's weights four times over: " + formatBytes(4 * largest) + "; its graph: "
                    + formatBytes(graph) + "), and the memory limit is " + formatBytes(limit)
                    + ": use shorter or fewer samples per step, or a machine with more memory",
                ErrorContext { checkpoint.path().string(), {}, {} });
        }
    }

    at::Tensor layerInput(const std::string& module, const at::Tensor& x) const
    {
        at::Tensor in = x;
        if (m_r4 && endsWith(module, "mlp.down_proj"))
            in = rotateRightDifferentiable(in, *m_r4);
        if (m_activations) {
            at::Tensor q;
            {
                at::NoGradGuard noGrad;
                q = m_activations(module, in.detach());
            }
            in = straightThrough(in, q);
        }
        return in;
    }

    std::unique_ptr<Block> loadLayer(std::int64_t layer)
    {
        if (m_progress.cancelled())
            throw CancelledError();
        std::unique_ptr<Block> block = m_blocks->loadLayer(layer);
        return block;
    }

    // Every layer's input for the samples (states[l][i]: layer l's input of sample i; the last
    // entry, the last layer's output), without gradients; `keep` false keeps only the output.
    std::vector<std::vector<at::Tensor>> forward(const std::vector<std::size_t>& batch, const at::Tensor& r1,
        const std::vector<at::Tensor>& r2, bool keep)
    {
        at::NoGradGuard noGrad;
        const at::Tensor rotation = r1.to(at::kFloat);
        std::vector<std::vector<at::Tensor>> states(1);
        for (std::size_t i : batch)
            states[0].push_back(at::matmul(m_blocks->embed(m_samples[i]), rotation));
        m_blocks->releaseEmbeddings();
        for (std::int64_t l = 0; l < m_config.layers; ++l) {
            std::unique_ptr<Block> block = loadLayer(l);
            installRotated(*block,
                rotatedLayerWeights(*block, m_config, rotation, r2.empty() ? at::Tensor() : r2[l].to(at::kFloat),
                    m_r4.get(), m_weights));
            std::vector<at::Tensor> next;
            for (const at::Tensor& x : states.back())
                next.push_back(block->forward(x, 0, m_hooks));
            m_blocks->release(*block);
            if (!keep)
                states.clear();
            states.push_back(std::move(next));
        }
        return states;
    }

    // The head's mean next-token loss over the samples' predicted tokens; with `gradients`, the
    // loss's gradient for each sample's last-layer output into it and R1's into r1's grad.
    double headLoss(const std::vector<std::size_t>& batch, const std::vector<at::Tensor>& outputs, const at::Tensor& r1,
        std::vector<at::Tensor>* gradients)
    {
        const std::size_t n = batch.size();
        std::int64_t predicted = 0;
        std::vector<at::Tensor> last(n), z(n), zLeaf(n), targets(n), lse(n), runningMax(n), runningSum(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto& tokens = m_samples[batch[i]];
            const auto t = static_cast<std::int64_t>(tokens.size());
            predicted += t - 1;
            targets[i] = at::tensor(std::vector<std::int64_t>(tokens.begin() + 1, tokens.end()), at::kLong);
            last[i] = outputs[i].slice(0, 0, t - 1).detach();
            if (gradients)
                last[i].requires_grad_(true);
            // The head reads the unrotated state: norm(h R1^T) gamma W^T = norm(h) (W gamma R1)^T.
            at::AutoGradMode grad(gradients != nullptr);
            z[i] = m_head->prologue(at::matmul(last[i], r1.t()), {});
            zLeaf[i] = z[i].detach().requires_grad_(gradients != nullptr);
        }
        const std::int64_t rows = std::max<std::int64_t>(1, m_head->chunkRows(std::uint64_t(64) << 20));
        const std::int64_t vocab = m_head->vocab();
        double targetSum = 0;
        {
            at::NoGradGuard noGrad;
            for (std::int64_t begin = 0; begin < vocab; begin += rows) {
                checkCancelled();
                const HeadChunk chunk = m_head->chunk(begin, std::min(vocab, begin + rows));
                for (std::size_t i = 0; i < n; ++i) {
                    const at::Tensor logits = chunk.logits(zLeaf[i].detach());
                    const at::Tensor m = std::get<0>(logits.max(1));
                    if (!runningMax[i].defined()) {
                        runningMax[i] = m;
                        runningSum[i] = at::exp(logits - m.unsqueeze(1)).sum(1);
                    } else {
                        const at::Tensor top = at::maximum(runningMax[i], m);
                        runningSum[i] = runningSum[i] * at::exp(runningMax[i] - top)
                            + at::exp(logits - top.unsqueeze(1)).sum(1);
                        runningMax[i] = top;
                    }
                    const at::Tensor inChunk = (targets[i] >= begin).logical_and(targets[i] < begin + logits.size(1));
                    if (inChunk.any().item<bool>()) {
                        const at::Tensor local = (targets[i] - begin).clamp(0, logits.size(1) - 1);
                        targetSum += (logits.gather(1, local.unsqueeze(1)).squeeze(1) * inChunk).sum().item<double>();
                    }
                }
            }
            for (std::size_t i = 0; i < n; ++i)
                lse[i] = runningMax[i] + at::log(runningSum[i]);
        }
        double lseSum = 0;
        for (const at::Tensor& l : lse)
            lseSum += l.sum().item<double>();
        const double loss = (lseSum - targetSum) / static_cast<double>(predicted);
        if (!gradients) {
            m_head->release();
            return loss;
        }
        // d loss / d logits = (softmax - onehot) / predicted, chunk by chunk into z's gradient.
        for (std::int64_t begin = 0; begin < vocab; begin += rows) {
            checkCancelled();
            const HeadChunk chunk = m_head->chunk(begin, std::min(vocab, begin + rows));
            for (std::size_t i = 0; i < n; ++i) {
                const at::Tensor logits = chunk.logits(zLeaf[i]);
                at::Tensor d;
                {
                    at::NoGradGuard noGrad;
                    d = at::exp(logits.detach() - lse[i].unsqueeze(1));
                    const at::Tensor inChunk
                        = (targets[i] >= begin).logical_and(targets[i] < begin + logits.size(1));
                    const at::Tensor local = (targets[i] - begin).clamp(0, logits.size(1) - 1);
                    d.scatter_add_(1, local.unsqueeze(1), -inChunk.to(at::kFloat).unsqueeze(1));
                    d = d / static_cast<double>(predicted);
                }
                logits.backward(d);
            }
        }
        m_head->release();
        gradients->assign(n, {});
        for (std::size_t i = 0; i < n; ++i) {
            z[i].backward(zLeaf[i].grad());
            // The last position predicts nothing.
            (*gradients)[i] = at::cat({ last[i].grad(), at::zeros({ 1, m_config.hidden }) });
        }
        return loss;
    }

    double loss(const std::vector<std::size_t>& samples, const at::Tensor& r1, const std::vector<at::Tensor>& r2,
        const std::string& what)
    {
        m_progress.report({ m_done, m_total, 0, 0, "SpinQuant: the loss of " + what + " on all samples" });
        double total = 0;
        std::int64_t predicted = 0;
        // In batches, so that memory holds no more than a step does.
        for (std::size_t begin = 0; begin < samples.size(); begin += static_cast<std::size_t>(m_batch)) {
            const std::vector<std::size_t> batch(samples.begin() + static_cast<std::ptrdiff_t>(begin),
                samples.begin() + static_cast<std::ptrdiff_t>(std::min(samples.size(), begin + m_batch)));
            std::int64_t tokens = 0;
            for (std::size_t i : batch)
                tokens += static_cast<std::int64_t>(m_samples[i].size()) - 1;
            const auto states = forward(batch, r1, r2, false);
            total += headLoss(batch, states.back(), r1.to(at::kFloat), nullptr) * static_cast<double>(tokens);
            predicted += tokens;
        }
        m_progress.report({ ++m_done, m_total, 0, 0, "SpinQuant: the loss of " + what + " on all samples" });
        return total / static_cast<double>(predicted);
    }

    // One step: forward, the loss's gradient, the layers back from the last, the Cayley updates.
    double step(const std::vector<std::size_t>& batch, at::Tensor& r1, std::vector<at::Tensor>& r2, SpinQuantReport& report)
    {
        std::vector<std::vector<at::Tensor>> states = forward(batch, r1, r2, true);
        const at::Tensor r1Leaf = r1.to(at::kFloat).requires_grad_(true);
        std::vector<at::Tensor> gradients;
        const double loss = headLoss(batch, states.back(), r1Leaf, &gradients);
        states.pop_back();
        std::vector<at::Tensor> r2Gradients(r2.size());
        for (std::int64_t l = m_config.layers - 1; l >= 0; --l) {
            std::unique_ptr<Block> block = loadLayer(l);
            at::Tensor r2Leaf;
            if (!r2.empty())
                r2Leaf = r2[l].to(at::kFloat).requires_grad_(true);
            const RotatedLayerWeights w = rotatedLayerWeights(*block, m_config, r1Leaf, r2Leaf, m_r4.get(), m_weights);
            // The block computes with leaves of the rotated weights: their gradients, summed over
            // the samples, go back through the rotation once.
            RotatedLayerWeights leaves = w;
            for (auto& [module, weight] : leaves.weights)
                weight = weight.detach().requires_grad_(true);
            if (leaves.bias.defined())
                leaves.bias = leaves.bias.detach().requires_grad_(true);
            installRotated(*block, leaves);
            for (std::size_t i = 0; i < batch.size(); ++i) {
                const at::Tensor x = states[l][i].detach().requires_grad_(true);
                block->forward(x, 0, m_hooks).backward(gradients[i]);
                gradients[i] = x.grad();
            }
            states.pop_back();
            std::vector<at::Tensor> outputs, grads;
            for (std::size_t j = 0; j < w.weights.size(); ++j) {
                if (leaves.weights[j].second.grad().defined()) {
                    outputs.push_back(w.weights[j].second);
                    grads.push_back(leaves.weights[j].second.grad());
                }
            }
            if (w.bias.defined() && leaves.bias.grad().defined()) {
                outputs.push_back(w.bias);
                grads.push_back(leaves.bias.grad());
            }
            torch::autograd::backward(outputs, grads);
            m_blocks->release(*block);
            if (r2Leaf.defined() && r2Leaf.grad().defined())
                r2Gradients[l] = r2Leaf.grad();
        }
        // The embeddings: h0 = E[tokens] R1.
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const at::Tensor e = m_blocks->embed(m_samples[batch[i]]);
            at::matmul(e, r1Leaf).backward(gradients[i]);
        }
        m_blocks->releaseEmbeddings();
        const CayleyStep s1 = cayleyStep(r1, r1Leaf.grad(), m_settings.lr);
        r1 = s1.rotation;
        report.stepSizes.push_back(s1.step);
        for (std::size_t l = 0; l < r2.size(); ++l) {
            if (r2Gradients[l].defined())
                r2[l] = cayleyStep(r2[l], r2Gradients[l], m_settings.lr).rotation;
        }
        return loss;
    }

    void checkCancelled() const
    {
        if (m_progress.cancelled())
            throw CancelledError();
    }

    const std::vector<std::vector<std::int64_t>>& m_samples;
    const SpinQuantSettings& m_settings;
    Progress& m_progress;
    ModelConfig m_config;
    std::unique_ptr<ModelBlocks> m_blocks;
    std::unique_ptr<Head> m_head;
    WeightTransform m_weights;
    LinearInputHook m_activations;
    std::unique_ptr<Rotation> m_r4;
    BlockHooks m_hooks;
    int m_batch = 1;
    std::uint64_t m_planned = 0;
    std::int64_t m_done = 0, m_total = 0;
};

} // namespace

SpinQuantSettings spinQuantSettings(const AlgorithmSettings& a)
{
    SpinQuantSettings s;
    s.steps = a.spinQuantSteps;
    s.lr = a.spinQuantLr;
    s.start = a.rotation.empty() ? RotationKind::Hadamard : rotationKindFromName(a.rotation);
    s.seed = a.rotationSeed;
    s.r2 = a.rotationR2;
    s.online = a.rotationOnline;
    s.quantizeWeights = !a.gptq;
    return s;
}

LearnedRotations learnRotations(const Checkpoint& checkpoint, const std::vector<std::vector<std::int64_t>>& samples,
    const SpinQuantSettings& settings, Progress& progress, SpinQuantReport& report)
{
    report = {};
    Learner learner(checkpoint, samples, settings, progress);
    return learner.learn(report);
}

} // namespace qs
