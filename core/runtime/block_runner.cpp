// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/block_runner.h"

#include "error.h"
#include "jobs/progress.h"
#include "quant/prefaulted_tensor.h"
#include "runtime/hidden_states.h"
#include "runtime/memory.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

namespace qs {
namespace {

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double squaredNorm(const at::Tensor& x)
{
    return x.pow(2).sum(at::kDouble).item<double>();
}

double squaredDistance(const at::Tensor& a, const at::Tensor& b)
{
    return (a - b).pow(2).sum(at::kDouble).item<double>();
}

} // namespace

// Per-block sums of the comparisons.
struct BlockRunner::Sums
{
    double distance = 0, norm = 0, cosine = 0;
    std::int64_t tokens = 0;
    struct Module
    {
        std::string name;
        double own = 0, ownNorm = 0, accumulated = 0, accumulatedNorm = 0;
    };
    std::vector<Module> modules;
    std::map<std::string, std::size_t> index;
    Module& module(const std::string& name)
    {
        const auto [it, added] = index.emplace(name, modules.size());
        if (added)
            modules.push_back({ name });
        return modules[it->second];
    }
};

BlockRunner::BlockRunner(const ModelBlocks& model, BlockRunOptions options)
    : m_model(model)
    , m_options(std::move(options))
{
}

BlockRunner::~BlockRunner() = default;

int BlockRunner::addWeights(WeightTransform transform, bool head)
{
    if (transform) { // timed apart from reading
        transform = [inner = std::move(transform), this](const std::string& module, const at::Tensor& w) {
            const auto started = std::chrono::steady_clock::now();
            at::Tensor out = inner(module, w);
            m_stats.transformSeconds += secondsSince(started);
            return out;
        };
    }
    m_variants.push_back({ std::move(transform), head });
    return static_cast<int>(m_variants.size()) - 1;
}

int BlockRunner::addSequences(std::vector<std::vector<std::int64_t>> sequences)
{
    m_sets.push_back(std::move(sequences));
    return static_cast<int>(m_sets.size()) - 1;
}

int BlockRunner::addStream(RunnerStream stream)
{
    const auto index = static_cast<int>(m_streams.size());
    if (stream.weights < 0 || stream.weights >= static_cast<int>(m_variants.size()) || stream.sequences < 0
        || stream.sequences >= static_cast<int>(m_sets.size()))
        throw UsageError("a runner stream names weights or sequences that were not added");
    if (stream.reference >= index
        || (stream.reference >= 0 && m_streams[static_cast<std::size_t>(stream.reference)].sequences != stream.sequences))
        throw UsageError("a runner stream is compared with a later stream or one on other sequences");
    m_streams.push_back(std::move(stream));
    return index;
}

std::set<int> BlockRunner::usedVariants() const
{
    std::set<int> used;
    for (const RunnerStream& s : m_streams) {
        used.insert(s.weights);
        if (s.calibration)
            used.insert(s.calibration->floatWeights);
    }
    return used;
}

void BlockRunner::plan()
{
    const ModelConfig& c = m_model.config();
    m_stats.maxMemory = m_options.maxMemory > 0 ? m_options.maxMemory : defaultMemoryLimit();
    const std::set<int> used = usedVariants();
    bool compared = false;
    std::int64_t longest = 0;
    std::uint64_t hiddenBytes = 0;
    for (const RunnerStream& s : m_streams) {
        compared = compared || s.reference >= 0;
        for (const auto& seq : m_sets[static_cast<std::size_t>(s.sequences)]) {
            longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(seq.size()));
            hiddenBytes += static_cast<std::uint64_t>(seq.size() * c.hidden) * sizeof(float);
        }
    }
    std::string largestName = "the head";
    for (std::int64_t i = 0; i < m_model.layerCount(); ++i) {
        if (m_model.layerBytes(i) > m_stats.largestBlockBytes) {
            m_stats.largestBlockBytes = m_model.layerBytes(i);
            largestName = m_model.layerName(i);
        }
    }
    // While a block runs: its weights in each variant, the transient copies of one weight being
    // converted and quantized, and one sequence's activations (with the module outputs a
    // comparison keeps); the head needs a chunk of rows (or the whole projection when transformed).
    const auto n = static_cast<std::uint64_t>(longest);
    const auto width = static_cast<std::uint64_t>(4 * c.hidden + 3 * c.intermediate);
    const std::uint64_t tensor = static_cast<std::uint64_t>(std::max(c.intermediate, c.hidden) * c.hidden) * 4;
    std::uint64_t blocks = m_stats.largestBlockBytes * used.size() + 3 * tensor;
    for (const RunnerStream& s : m_streams) {
        if (s.calibration) // GPTQ's Hessians: [in, in] float32 per module of a layer
            blocks += static_cast<std::uint64_t>(6 * c.hidden * c.hidden + c.intermediate * c.intermediate) * 4;
    }
    const std::uint64_t work = n * width * 4 * (compared ? 4 : 2)
        + static_cast<std::uint64_t>(c.heads) * n * n * 4 * 3;
    std::uint64_t head = 2 * m_options.headChunkBytes;
    for (int v : used) {
        if (m_variants[static_cast<std::size_t>(v)].head)
            head += static_cast<std::uint64_t>(c.vocabSize * c.hidden) * 4;
    }
    const std::uint64_t base = currentRssBytes();
    const std::uint64_t margin = std::uint64_t(64) << 20;
    const std::uint64_t needed = base + std::max(blocks, head) + work + margin;
    if (needed > m_stats.maxMemory)
        throw UsageError("the memory limit of " + formatBytes(m_stats.maxMemory) + " cannot hold block " + largestName
            + ": its weights take " + formatBytes(m_stats.largestBlockBytes) + " in float32"
            + (used.size() > 1 ? " (" + formatBytes(m_stats.largestBlockBytes * used.size()) + " as float and quantized)"
                               : std::string())
            + ", and the run needs " + formatBytes(needed - m_stats.largestBlockBytes * used.size())
            + " besides (this process " + formatBytes(base) + ", activations of a sequence of " + std::to_string(longest)
            + " tokens " + formatBytes(work) + "); allow at least " + formatBytes(needed + hiddenBytes / 8));
    m_hiddenBudget = m_stats.maxMemory - needed;
    if (m_options.hiddenMemory > 0)
        m_hiddenBudget = std::min(m_hiddenBudget, m_options.hiddenMemory);
    m_stats.hiddenBytes = hiddenBytes;
    m_states.clear();
    for (const RunnerStream& s : m_streams) {
        const auto& set = m_sets[static_cast<std::size_t>(s.sequences)];
        std::vector<std::int64_t> lengths;
        std::uint64_t bytes = 0;
        for (const auto& seq : set) {
            lengths.push_back(static_cast<std::int64_t>(seq.size()));
            bytes += static_cast<std::uint64_t>(seq.size() * c.hidden) * sizeof(float);
        }
        const double share = hiddenBytes > 0 ? static_cast<double>(bytes) / static_cast<double>(hiddenBytes) : 0;
        m_states.push_back(std::make_unique<HiddenStates>(
            lengths, c.hidden, static_cast<std::uint64_t>(share * static_cast<double>(m_hiddenBudget)),
            m_options.spillDirectory));
        m_stats.spilledBytes += m_states.back()->spilledBytes();
    }
}

void BlockRunner::run(Progress& progress)
{
    // Start the thread pools outside the timing (a first parallel matmul spawns them).
    at::linear(at::ones({ 64, 256 }), at::ones({ 256, 256 })).sum().item<float>();
    const auto started = std::chrono::steady_clock::now();
    if (m_streams.empty())
        throw UsageError("the block runner has no stream to run");
    plan();
    // Each layer loads into the pages the previous one freed (restored when the run ends).
    struct CacheLimit
    {
        std::size_t previous;
        ~CacheLimit() { setPrefaultedCacheLimit(previous); }
    } cacheLimit { setPrefaultedCacheLimit(
        static_cast<std::size_t>(m_stats.largestBlockBytes * m_variants.size() + (std::uint64_t(64) << 20))) };
    ProgressUpdate update;
    update.stepsTotal = m_model.layerCount() + 2;
    update.current = "embeddings";
    progress.report(update);
    for (std::size_t set = 0; set < m_sets.size(); ++set) {
        for (std::size_t s = 0; s < m_sets[set].size(); ++s) {
            progress.checkCancelled();
            const at::Tensor x = m_model.embed(m_sets[set][s]);
            for (std::size_t i = 0; i < m_streams.size(); ++i) {
                if (m_streams[i].sequences == static_cast<int>(set))
                    m_states[i]->put(s, x);
            }
        }
    }
    m_model.releaseEmbeddings();
    ++update.stepsDone;
    for (std::int64_t layer = 0; layer < m_model.layerCount(); ++layer)
        runLayer(layer, progress, update);
    m_ran = true;
    m_stats.seconds += secondsSince(started);
}

void BlockRunner::runLayer(std::int64_t layer, Progress& progress, ProgressUpdate& update)
{
    update.current = m_model.layerName(layer);
    progress.report(update);
    progress.checkCancelled();
    const auto loading = std::chrono::steady_clock::now();
    const double transformedBefore = m_stats.transformSeconds;
    std::vector<std::unique_ptr<Block>> loaded(m_variants.size());
    for (int v : usedVariants()) {
        loaded[static_cast<std::size_t>(v)] = m_model.loadLayer(layer, m_variants[static_cast<std::size_t>(v)].transform);
        m_model.release(*loaded[static_cast<std::size_t>(v)]);
    }
    m_stats.loadSeconds += secondsSince(loading) - (m_stats.transformSeconds - transformedBefore);
    for (std::size_t i = 0; i < m_streams.size(); ++i) {
        if (m_streams[i].calibration)
            calibrateLayer(loaded, i, progress);
    }
    Sums sums;
    for (std::size_t set = 0; set < m_sets.size(); ++set) {
        for (std::size_t s = 0; s < m_sets[set].size(); ++s) {
            progress.checkCancelled();
            runSequence(loaded, static_cast<int>(set), s, sums);
        }
    }
    if (sums.tokens > 0)
        reportBlock(update.current, sums);
    std::uint64_t bytes = 0;
    for (const auto& block : loaded)
        bytes += block ? block->bytes() : 0;
    loaded.clear();
    returnFreedMemory(bytes);
    ++update.stepsDone;
    progress.report(update);
}

void BlockRunner::calibrateLayer(std::vector<std::unique_ptr<Block>>& loaded, std::size_t index, Progress& progress)
{
    const RunnerStream& stream = m_streams[index];
    const LayerCalibration& c = *stream.calibration;
    const auto& floatLayer = loaded[static_cast<std::size_t>(c.floatWeights)];
    const auto& set = m_sets[static_cast<std::size_t>(stream.sequences)];
    HiddenStates& states = *m_states[index];
    for (std::size_t s = 0; s < set.size(); ++s) {
        progress.checkCancelled();
        floatLayer->forward(states.get(s), 0, c.collect);
    }
    if (c.calibrate) {
        const auto started = std::chrono::steady_clock::now();
        c.calibrate(*floatLayer, *loaded[static_cast<std::size_t>(stream.weights)]);
        m_stats.calibrateSeconds += secondsSince(started);
    }
    const Block& next = c.propagateError ? *loaded[static_cast<std::size_t>(stream.weights)] : *floatLayer;
    for (std::size_t s = 0; s < set.size(); ++s) {
        progress.checkCancelled();
        states.put(s, next.forward(states.get(s), 0, stream.hooks));
    }
}

void BlockRunner::runSequence(const std::vector<std::unique_ptr<Block>>& loaded, int set, std::size_t sequence, Sums& sums)
{
    std::map<std::string, at::Tensor> stash; // the reference stream's module outputs
    std::vector<at::Tensor> outputs(m_streams.size());
    for (std::size_t i = 0; i < m_streams.size(); ++i) {
        const RunnerStream& stream = m_streams[i];
        if (stream.sequences != set || stream.calibration)
            continue;
        std::vector<std::size_t> comparers;
        for (std::size_t j = i + 1; j < m_streams.size(); ++j) {
            if (m_streams[j].reference == static_cast<int>(i))
                comparers.push_back(j);
        }
        BlockHooks hooks = stream.hooks;
        if (!comparers.empty()) {
            hooks.output = [&](const std::string& module, const at::Tensor& input, const at::Tensor& output) {
                stash[module] = output;
                for (std::size_t j : comparers) {
                    const Block& other = *loaded[static_cast<std::size_t>(m_streams[j].weights)];
                    const Projection* p = other.projection(module);
                    if (!p)
                        continue;
                    const at::Tensor own = project(input, *p, BlockHooks { m_streams[j].hooks.input, {}, {} });
                    Sums::Module& m = sums.module(module);
                    m.own += squaredDistance(own, output);
                    m.ownNorm += squaredNorm(output);
                }
            };
        } else if (stream.reference >= 0) {
            hooks.output = [&](const std::string& module, const at::Tensor&, const at::Tensor& output) {
                const auto it = stash.find(module);
                if (it == stash.end())
                    return;
                Sums::Module& m = sums.module(module);
                m.accumulated += squaredDistance(output, it->second);
                m.accumulatedNorm += squaredNorm(it->second);
            };
        }
        const at::Tensor y = loaded[static_cast<std::size_t>(stream.weights)]->forward(m_states[i]->get(sequence), 0, hooks);
        if (stream.reference >= 0) {
            const at::Tensor& r = outputs[static_cast<std::size_t>(stream.reference)];
            sums.distance += squaredDistance(y, r);
            sums.norm += squaredNorm(r);
            sums.cosine += at::cosine_similarity(y, r, 1, 1e-12).sum(at::kDouble).item<double>();
            sums.tokens += y.size(0);
        }
        if (!comparers.empty())
            outputs[i] = y;
        m_states[i]->put(sequence, y);
    }
}

void BlockRunner::reportBlock(const std::string& name, const Sums& sums)
{
    auto ratio = [](double a, double b) { return b > 0 ? a / b : (a > 0 ? INFINITY : 0.0); };
    m_blocks.push_back({ name, ratio(sums.distance, sums.norm), sums.cosine / static_cast<double>(sums.tokens) });
    for (const Sums::Module& m : sums.modules)
        m_modules.push_back({ m.name, name, ratio(m.own, m.ownNorm), ratio(m.accumulated, m.accumulatedNorm) });
}

void BlockRunner::runHead(
    const std::vector<std::vector<std::int64_t>>& rows, const HeadConsumer& consume, Progress& progress)
{
    if (!m_ran)
        throw UsageError("the head runs after the layers (BlockRunner::run)");
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::size_t> streams;
    for (std::size_t i = 0; i < m_streams.size(); ++i) {
        if (m_streams[i].toHead)
            streams.push_back(i);
        else
            m_states[i].reset();
    }
    if (streams.empty())
        return;
    const int set = m_streams[streams.front()].sequences;
    const auto& sequences = m_sets[static_cast<std::size_t>(set)];
    if (rows.size() != sequences.size())
        throw UsageError("the head needs the scored rows of every sequence");
    for (std::size_t i : streams) {
        if (m_streams[i].sequences != set)
            throw UsageError("the streams that reach the head run different sequences");
    }
    ProgressUpdate update;
    update.stepsTotal = m_model.layerCount() + 2;
    update.stepsDone = m_model.layerCount() + 1;
    update.current = "head";
    progress.report(update);
    std::map<int, std::unique_ptr<Head>> heads;
    for (std::size_t i : streams) {
        auto& head = heads[m_streams[i].weights];
        if (!head) {
            const Variant& v = m_variants[static_cast<std::size_t>(m_streams[i].weights)];
            head = m_model.loadHead(v.head ? v.transform : WeightTransform());
        }
    }
    // The projection's input of the scored rows, per stream (replacing the layers' states).
    std::vector<std::int64_t> counts;
    counts.reserve(rows.size());
    for (const auto& r : rows)
        counts.push_back(static_cast<std::int64_t>(r.size()));
    std::vector<std::unique_ptr<HiddenStates>> inputs(m_streams.size());
    for (std::size_t i : streams) {
        const Head& head = *heads[m_streams[i].weights];
        const BlockHooks& hooks = m_streams[i].hooks;
        inputs[i] = std::make_unique<HiddenStates>(counts, m_model.config().hidden,
            m_hiddenBudget / std::max<std::size_t>(streams.size(), 1), m_options.spillDirectory);
        for (std::size_t s = 0; s < sequences.size(); ++s) {
            progress.checkCancelled();
            at::Tensor h = head.prologue(m_states[i]->get(s), hooks);
            if (hooks.input)
                h = hooks.input(head.module(), h);
            inputs[i]->put(s, h.index_select(0, at::tensor(rows[s], at::kLong)));
        }
        m_states[i].reset();
    }
    if (consume) {
        const Head& first = *heads.begin()->second;
        const std::int64_t step = first.chunkRows(m_options.headChunkBytes);
        for (std::int64_t begin = 0; begin < first.vocab(); begin += step) {
            const std::int64_t end = std::min(first.vocab(), begin + step);
            std::map<int, HeadChunk> chunks;
            for (const auto& [variant, head] : heads)
                chunks[variant] = head->chunk(begin, end);
            for (std::size_t s = 0; s < sequences.size(); ++s) {
                progress.checkCancelled();
                std::vector<at::Tensor> logits;
                logits.reserve(streams.size());
                for (std::size_t i : streams)
                    logits.push_back(chunks[m_streams[i].weights].logits(inputs[i]->get(s)));
                consume(s, begin, logits);
            }
            for (const auto& [variant, head] : heads)
                head->release();
        }
    }
    ++update.stepsDone;
    progress.report(update);
    m_stats.headSeconds += secondsSince(started);
    m_stats.seconds += secondsSince(started);
}

at::Tensor BlockRunner::states(int stream, std::size_t sequence) const
{
    const auto& s = m_states.at(static_cast<std::size_t>(stream));
    if (!s)
        throw UsageError("the stream's states were dropped after the head ran");
    return s->get(sequence);
}

std::vector<at::Tensor> blockLogits(const ModelBlocks& model, const std::vector<std::vector<std::int64_t>>& sequences,
    const BlockRunOptions& options, Progress& progress, const BlockHooks& hooks)
{
    BlockRunner runner(model, options);
    runner.addStream({ runner.addWeights(), runner.addSequences(sequences), hooks, -1, true, nullptr });
    runner.run(progress);
    std::vector<std::vector<std::int64_t>> rows;
    std::vector<at::Tensor> out;
    for (const auto& s : sequences) {
        const auto n = static_cast<std::int64_t>(s.size());
        std::vector<std::int64_t> all(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i)
            all[static_cast<std::size_t>(i)] = i;
        rows.push_back(std::move(all));
        out.push_back(at::empty({ n, model.config().vocabSize }, at::kFloat));
    }
    runner.runHead(rows,
        [&](std::size_t s, std::int64_t begin, const std::vector<at::Tensor>& logits) {
            out[s].slice(1, begin, begin + logits[0].size(1)).copy_(logits[0]);
        },
        progress);
    return out;
}

} // namespace qs
