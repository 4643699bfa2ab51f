// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// A model as a sequence of blocks that can be loaded one at a time: the embeddings (read row by
// row from the mapped checkpoint), each decoder or encoder layer (a Block, its weights loaded as
// float32 when it runs and released after) and the head (final norm, then the vocabulary
// projection in row chunks). The resident LanguageModel and the block runner both run these.
#include "io/checkpoint.h"
#include "models/language_model.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qs {

// Called after each Linear of a block with the module, its input as the layer gave it (before
// the input hook) and its output.
using LinearOutputObserver
    = std::function<void(const std::string& module, const at::Tensor& input, const at::Tensor& output)>;

struct BlockHooks
{
    LinearInputHook input; // what each Linear computes with (activation fake quantization, capture)
    ActivationObserver observe; // the twelve named points per layer
    LinearOutputObserver output;
};

class Rotation;

// A Linear module's weights, float32: weight [out, in], bias [out] or undefined; `inputRotation`:
// an online rotation its input goes through first (QuaRot's Hadamard on the down projection's
// input, fused into its weight), before the input hook sees it.
struct Projection
{
    std::string module;
    at::Tensor weight, bias;
    std::shared_ptr<const Rotation> inputRotation;
};

// x W^T (+ bias) through the hooks: the input hook first, the output observer after.
at::Tensor project(const at::Tensor& x, const Projection& p, const BlockHooks& hooks);

// A norm whose output only the Linear modules right after it read (no residual, no other use):
// SmoothQuant's smooth layer. Dividing its weight and bias per channel by s and multiplying those
// modules' weight columns by s leaves the block's function unchanged.
struct NormWeights
{
    std::string module; // "model.layers.3.input_layernorm"
    at::Tensor weight, bias; // [hidden]; bias undefined for RMSNorm
};

// The keys and values a causal layer has attended to (greedy generation): [tokens, kvHeads * headDim],
// Llama's keys after the rotation.
struct KvCache
{
    at::Tensor keys, values;
    std::int64_t tokens() const;
};

// One decoder or encoder layer with its weights loaded.
class Block
{
public:
    virtual ~Block() = default;

    // x [tokens, hidden] at positions position .. position + tokens - 1 -> [tokens, hidden]. With a
    // cache (decoders), attends to the cached keys and values too and appends its own.
    virtual at::Tensor forward(
        const at::Tensor& x, std::int64_t position, const BlockHooks& hooks, KvCache* cache = nullptr) const
        = 0;

    // Its Linear modules, in the order they run.
    virtual std::vector<const Projection*> projections() const = 0;
    const Projection* projection(const std::string& module) const;
    // Replaces a Linear module's weight (same shape; an algorithm's result). UsageError when the
    // block has no such module or the shape differs.
    void replaceWeight(const std::string& module, const at::Tensor& weight);
    // The norms that feed only Linear modules (pre-norm layers: Llama's two, GPT-2's ln_1 and
    // ln_2); none for post-norm layers (BERT), whose norm outputs also feed the residual.
    virtual std::vector<const NormWeights*> smoothableNorms() const { return {}; }
    // weight / divisor and bias / divisor of one of them; UsageError when the block has no such norm.
    void divideNorm(const std::string& module, const at::Tensor& divisor);
    // Sets one of them to the identity (weight 1, no bias: a norm folded into its readers).
    void resetNorm(const std::string& module);
    // Replaces a Linear module's bias (same shape); UsageError when it has none.
    void replaceBias(const std::string& module, const at::Tensor& bias);
    // Gives the Linear modules whose path ends in `suffix` an online input rotation.
    void setInputRotation(const std::string& suffix, std::shared_ptr<const Rotation> rotation);

    // The part of the layer that holds several Linear modules, llm-compressor's "parent" of an
    // AWQ mapping (the lowest module holding every balance layer): `parent` is the layer's name +
    // ".self_attn" or ".mlp" (Llama group), run on its own input (the norm's output, as the layer
    // gives it) -> its output, through the Linear hooks. UsageError for a family or part without one.
    virtual at::Tensor runParent(
        const std::string& parent, const at::Tensor& x, std::int64_t position, const BlockHooks& hooks) const;

    const std::string& name() const { return m_name; } // "model.layers.3"
    std::uint64_t bytes() const; // the float32 weights it holds
    const std::vector<std::string>& tensors() const { return m_tensors; } // the checkpoint tensors it read

protected:
    std::string m_name;
    std::vector<std::string> m_tensors;
    std::vector<at::Tensor> m_others; // its norms and other non-Linear weights, for bytes()
};

// Rows begin .. end - 1 of the vocabulary projection, float32.
struct HeadChunk
{
    std::int64_t begin = 0;
    at::Tensor weight, bias; // [rows, hidden], [rows] or undefined
    double divisor = 1; // Granite's logits_scaling
    at::Tensor logits(const at::Tensor& h) const; // h [tokens, hidden] -> [tokens, rows]
};

// The final norm (BERT: its prediction transform) and the vocabulary projection.
class Head
{
public:
    virtual ~Head() = default;
    // The last layer's output [tokens, hidden] -> the vocabulary projection's input [tokens, hidden].
    virtual at::Tensor prologue(const at::Tensor& x, const BlockHooks& hooks) const = 0;
    // The weights of vocabulary rows [begin, end), read (and converted) once for many logits().
    virtual HeadChunk chunk(std::int64_t begin, std::int64_t end) const = 0;
    at::Tensor logits(const at::Tensor& h, std::int64_t begin, std::int64_t end) const
    {
        return chunk(begin, end).logits(h);
    }
    virtual const std::string& module() const = 0; // "lm_head"
    // Rows per logits() call that keep one chunk of weights near `bytes` in float32.
    std::int64_t chunkRows(std::uint64_t bytes) const;
    virtual std::int64_t hidden() const = 0;
    virtual std::int64_t vocab() const = 0;
    // Drops the head's mapped pages (after a pass).
    virtual void release() const = 0;
};

// Returns freed heap memory to the system after a block of `blockBytes` was dropped (only
// for blocks large enough that it matters).
void returnFreedMemory(std::uint64_t blockBytes);

// A family's blocks over one checkpoint. Holds no weights: everything is read when asked for.
class ModelBlocks
{
public:
    // The family the config names; FormatError when the checkpoint lacks what every block needs
    // (the embeddings) or the layout is unknown. Errors of one layer surface when it loads.
    static std::unique_ptr<ModelBlocks> open(const Checkpoint& checkpoint, const ModelConfig& config);
    virtual ~ModelBlocks() = default;

    const ModelConfig& config() const { return m_config; }
    const Checkpoint& checkpoint() const { return m_checkpoint; }

    std::int64_t layerCount() const { return m_config.layers; }
    virtual std::string layerName(std::int64_t layer) const = 0; // "model.layers.3"
    // Token ids (checked against the vocabulary) at positions position.. -> hidden states
    // [tokens, hidden] float32, reading only the rows it needs from the mapping.
    virtual at::Tensor embed(const std::vector<std::int64_t>& tokens, std::int64_t position = 0) const = 0;
    // FormatError naming the tensor when the layer's weights are missing or misshapen.
    virtual std::unique_ptr<Block> loadLayer(std::int64_t layer, const WeightTransform& transform = {}) const = 0;
    // The vocabulary projection reads its rows from the mapping per logits() call, unless the
    // transform changes the head module or the stored type needs decoding: then it is loaded whole.
    virtual std::unique_ptr<Head> loadHead(const WeightTransform& transform = {}) const = 0;
    // The head's Linear modules (consumers keep their activations float).
    virtual std::vector<std::string> headModules() const = 0;

    // An online rotation of the input of every Linear module whose path ends in `suffix` (the
    // checkpoint's weights carry its fused counterpart), applied by every layer this loads.
    void setInputRotation(std::string suffix, std::shared_ptr<const Rotation> rotation);
    // The float32 bytes a layer's weights take once loaded, from the catalog (nothing is read).
    std::uint64_t layerBytes(std::int64_t layer) const;
    // Drops the mapped pages of the tensors a block read.
    void release(const Block& block) const;
    void releaseEmbeddings() const;

protected:
    ModelBlocks(const Checkpoint& checkpoint, ModelConfig config);
    void checkTokens(const std::vector<std::int64_t>& tokens) const;
    // The named tensor's rows as float32, read from the mapping (bf16/fp16/fp32) or dequantized.
    at::Tensor rows(const std::string& tensor, const at::Tensor& ids) const;

    // The layer with the online rotations applied (the families' loadLayer ends with it).
    std::unique_ptr<Block> withInputRotations(std::unique_ptr<Block> block) const;

    Checkpoint m_checkpoint; // a copy shares the opened state
    std::vector<std::pair<std::string, std::shared_ptr<const Rotation>>> m_inputRotations;
    ModelConfig m_config;
    std::vector<std::string> m_embeddingTensors;
};

} // namespace qs
