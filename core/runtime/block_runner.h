// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Runs a model of any size in bounded memory, block by block: every sequence of every stream
// through block k (its weights loaded from the checkpoint for that block only, in each weight
// variant the streams use, and released after), then block k + 1; hidden states beyond the
// memory limit wait in a temporary file; the head runs in vocabulary chunks. A stream compared
// with a reference stream on the same sequences yields, per block, how far its hidden states
// moved from the reference's, and per Linear module its own and its accumulated output error.
#include "jobs/progress.h"
#include "models/block.h"
#include "runtime/divergence.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace qs {

class HiddenStates;

struct BlockRunOptions
{
    std::uint64_t maxMemory = 0; // resident bytes the process may reach; 0: defaultMemoryLimit()
    std::filesystem::path spillDirectory; // for hidden states beyond it; empty: the temporary folder
    std::uint64_t headChunkBytes = std::uint64_t(64) << 20; // float32 head rows per chunk
    // At most this many bytes of hidden states in memory, whatever the limit leaves (0: no cap);
    // the rest spills. For tests and for machines whose memory other programs need.
    std::uint64_t hiddenMemory = 0;
};

struct BlockRunStats
{
    std::uint64_t maxMemory = 0; // the limit the run planned for
    std::uint64_t hiddenBytes = 0; // hidden states of every stream
    std::uint64_t spilledBytes = 0; // of which in the temporary file
    std::uint64_t largestBlockBytes = 0; // float32 weights of the largest layer, one variant
    double loadSeconds = 0; // reading and converting block weights to float32
    double transformSeconds = 0; // applying the variants' transforms to them (fake quantization)
    double calibrateSeconds = 0; // the calibration streams' algorithms (GPTQ), their forwards not included
    double headSeconds = 0; // the head: prologue, vocabulary projection and what consumes its logits
    double seconds = 0; // the whole run, head included
};

// Sequential calibration (llm-compressor's pipeline): per layer, the stream's sequences first run
// through the `floatWeights` layer with the `collect` hooks (what the algorithm needs: Hessians,
// ranges), then `calibrate` may change the stream's own layer (its weights variant: GPTQ replaces
// the fake-quantized weights), then the sequences run through that layer with the stream's hooks
// and keep its outputs for the next layer (propagate_error; otherwise the float layer's outputs).
struct LayerCalibration
{
    int floatWeights = 0;
    BlockHooks collect;
    std::function<void(Block& floatLayer, Block& layer)> calibrate; // may change both (SmoothQuant)
    bool propagateError = true;
};

struct RunnerStream
{
    int weights = 0; // a variant added with addWeights()
    int sequences = 0; // a set added with addSequences()
    BlockHooks hooks; // input hook and observer (the runner adds its own output observer)
    int reference = -1; // an earlier stream on the same sequences to compare with
    bool toHead = true; // runs the head (otherwise its states are dropped after the last layer)
    // A calibration stream (see LayerCalibration): runs before every other stream of the layer.
    std::shared_ptr<LayerCalibration> calibration;
};

class BlockRunner
{
public:
    BlockRunner(const ModelBlocks& model, BlockRunOptions options = {});
    ~BlockRunner();

    // A weight variant: the transform applied to each Linear weight as a block loads (none: the
    // checkpoint's weights); `head`: whether it changes the head's vocabulary projection (then that
    // is held whole while the head runs, otherwise read in chunks from the mapping).
    int addWeights(WeightTransform transform = {}, bool head = false);
    // Sequences run together; sets are run in the order they were added within each block (a
    // calibration set before the evaluation set that uses its ranges).
    int addSequences(std::vector<std::vector<std::int64_t>> sequences);
    int addStream(RunnerStream stream);

    // The embeddings and every layer. UsageError naming the block when the memory limit cannot
    // hold one block with what the run needs besides; FormatError from a block that fails to load
    // (nothing of later blocks is read). Progress: the embeddings, one step per layer, the head;
    // cancellation between sequences.
    void run(Progress& progress);

    // The head on the streams that go there: the prologue (hooks included) on every sequence,
    // then, per vocabulary chunk and sequence, `consume` with the logits of the chosen rows of each
    // head stream (in stream order). Without `consume`, only the prologue and the hooks run.
    using HeadConsumer = std::function<void(
        std::size_t sequence, std::int64_t begin, const std::vector<at::Tensor>& logits)>;
    void runHead(const std::vector<std::vector<std::int64_t>>& rows, const HeadConsumer& consume, Progress& progress);

    // The states a stream holds now (after run(): the last layer's output), for tests.
    at::Tensor states(int stream, std::size_t sequence) const;

    const std::vector<BlockDivergence>& blocks() const { return m_blocks; }
    const std::vector<ModuleDivergence>& modules() const { return m_modules; }
    const BlockRunStats& stats() const { return m_stats; }
    const ModelBlocks& model() const { return m_model; }

private:
    struct Variant
    {
        WeightTransform transform;
        bool head = false;
    };
    struct StreamState;
    struct Sums;

    void plan();
    std::set<int> usedVariants() const; // the weight variants some stream (or calibration) runs
    void runLayer(std::int64_t layer, Progress& progress, ProgressUpdate& update);
    void calibrateLayer(std::vector<std::unique_ptr<Block>>& loaded, std::size_t stream, Progress& progress);
    void runSequence(const std::vector<std::unique_ptr<Block>>& loaded, int set, std::size_t sequence, Sums& sums);
    void reportBlock(const std::string& name, const Sums& sums);

    const ModelBlocks& m_model;
    BlockRunOptions m_options;
    std::vector<Variant> m_variants;
    std::vector<std::vector<std::vector<std::int64_t>>> m_sets;
    std::vector<RunnerStream> m_streams;
    std::vector<std::unique_ptr<HiddenStates>> m_states; // per stream
    std::uint64_t m_hiddenBudget = 0;
    std::vector<BlockDivergence> m_blocks;
    std::vector<ModuleDivergence> m_modules;
    BlockRunStats m_stats;
    bool m_ran = false;
};

// The logits [tokens, vocab] of each sequence, run with the block runner (all rows, so this holds
// them whole: for a window or a test, not for a corpus).
std::vector<at::Tensor> blockLogits(const ModelBlocks& model, const std::vector<std::vector<std::int64_t>>& sequences,
    const BlockRunOptions& options, Progress& progress, const BlockHooks& hooks = {});

} // namespace qs
