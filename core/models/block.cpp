// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/block.h"

#include "algo/hadamard.h"
#include "error.h"
#include "models/bert_blocks.h"
#include "models/gpt2_blocks.h"
#include "models/llama_blocks.h"

#include <ATen/ATen.h>

#include <malloc.h>

namespace qs {

at::Tensor project(const at::Tensor& input, const Projection& p, const BlockHooks& hooks)
{
    const at::Tensor x = p.inputRotation ? p.inputRotation->right(input) : input;
    const at::Tensor in = hooks.input ? hooks.input(p.module, x) : x;
    at::Tensor out = p.bias.defined() ? at::linear(in, p.weight, p.bias) : at::linear(in, p.weight);
    if (hooks.output)
        hooks.output(p.module, x, out);
    return out;
}

std::int64_t KvCache::tokens() const
{
    return keys.defined() ? keys.size(0) : 0;
}

const Projection* Block::projection(const std::string& module) const
{
    for (const Projection* p : projections()) {
        if (p->module == module)
            return p;
    }
    return nullptr;
}

void Block::replaceWeight(const std::string& module, const at::Tensor& weight)
{
    const Projection* p = projection(module);
    if (!p)
        throw UsageError("block " + m_name + " has no Linear module " + module);
    if (p->weight.sizes() != weight.sizes())
        throw UsageError("the new weight of " + module + " has another shape");
    const_cast<Projection*>(p)->weight = weight.to(at::kFloat).contiguous(); // the block owns its projections
}

void Block::replaceBias(const std::string& module, const at::Tensor& bias)
{
    const Projection* p = projection(module);
    if (!p || !p->bias.defined())
        throw UsageError("block " + m_name + " has no Linear module " + module + " with a bias");
    if (p->bias.sizes() != bias.sizes())
        throw UsageError("the new bias of " + module + " has another shape");
    const_cast<Projection*>(p)->bias = bias.to(at::kFloat).contiguous(); // the block owns its projections
}

void Block::setInputRotation(const std::string& suffix, std::shared_ptr<const Rotation> rotation)
{
    for (const Projection* p : projections()) {
        if (p->module.size() >= suffix.size() && p->module.compare(p->module.size() - suffix.size(), suffix.size(), suffix) == 0)
            const_cast<Projection*>(p)->inputRotation = rotation; // the block owns its projections
    }
}

void ModelBlocks::setInputRotation(std::string suffix, std::shared_ptr<const Rotation> rotation)
{
    m_inputRotations.emplace_back(std::move(suffix), std::move(rotation));
}

std::unique_ptr<Block> ModelBlocks::withInputRotations(std::unique_ptr<Block> block) const
{
    for (const auto& [suffix, rotation] : m_inputRotations)
        block->setInputRotation(suffix, rotation);
    return block;
}

at::Tensor Block::runParent(const std::string& parent, const at::Tensor&, std::int64_t, const BlockHooks&) const
{
    throw UsageError("block " + m_name + " cannot run " + parent + " on its own (AWQ's parent module): give "
        + "mappings whose balance layers are one Linear module, or use a Llama-family model");
}

void Block::divideNorm(const std::string& module, const at::Tensor& divisor)
{
    for (const NormWeights* n : smoothableNorms()) {
        if (n->module != module)
            continue;
        if (divisor.numel() != n->weight.numel())
            throw UsageError("the divisor of " + module + " has " + std::to_string(divisor.numel()) + " values, the norm "
                + std::to_string(n->weight.numel()));
        auto* norm = const_cast<NormWeights*>(n); // the block owns its norms
        norm->weight = (norm->weight / divisor).contiguous();
        if (norm->bias.defined())
            norm->bias = (norm->bias / divisor).contiguous();
        return;
    }
    throw UsageError("block " + m_name + " has no norm " + module + " that feeds only Linear modules");
}

void Block::resetNorm(const std::string& module)
{
    for (const NormWeights* n : smoothableNorms()) {
        if (n->module != module)
            continue;
        auto* norm = const_cast<NormWeights*>(n); // the block owns its norms
        norm->weight = at::ones_like(norm->weight);
        if (norm->bias.defined())
            norm->bias = at::zeros_like(norm->bias);
        return;
    }
    throw UsageError("block " + m_name + " has no norm " + module + " that feeds only Linear modules");
}

std::uint64_t Block::bytes() const
{
    std::uint64_t total = 0;
    auto add = [&total](const at::Tensor& t) {
        if (t.defined())
            total += static_cast<std::uint64_t>(t.numel()) * t.element_size();
    };
    for (const Projection* p : projections()) {
        add(p->weight);
        add(p->bias);
    }
    for (const at::Tensor& t : m_others)
        add(t);
    return total;
}

at::Tensor HeadChunk::logits(const at::Tensor& h) const
{
    at::Tensor out = bias.defined() ? at::linear(h, weight, bias) : at::linear(h, weight);
    return divisor != 1 ? out / divisor : out;
}

std::int64_t Head::chunkRows(std::uint64_t bytes) const
{
    const auto rowBytes = static_cast<std::uint64_t>(std::max<std::int64_t>(hidden(), 1)) * sizeof(float);
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(bytes / rowBytes), 1, std::max<std::int64_t>(vocab(), 1));
}

std::unique_ptr<ModelBlocks> ModelBlocks::open(const Checkpoint& checkpoint, const ModelConfig& config)
{
    switch (config.family) {
    case ModelFamily::Llama:
        return std::make_unique<LlamaBlocks>(checkpoint, config);
    case ModelFamily::Gpt2:
        return std::make_unique<Gpt2Blocks>(checkpoint, config);
    case ModelFamily::Bert:
        return std::make_unique<BertBlocks>(checkpoint, config);
    }
    throw UsageError("no runtime for model type '" + config.modelType + "'");
}

ModelBlocks::ModelBlocks(const Checkpoint& checkpoint, ModelConfig config)
    : m_checkpoint(checkpoint)
    , m_config(std::move(config))
{
}

void ModelBlocks::checkTokens(const std::vector<std::int64_t>& tokens) const
{
    const std::int64_t vocab = m_config.vocabSize;
    for (auto t : tokens) {
        if (t < 0 || t >= vocab)
            throw UsageError(
                "token id " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
}

at::Tensor ModelBlocks::rows(const std::string& tensor, const at::Tensor& ids) const
{
    const TensorInfo* info = m_checkpoint.find(tensor);
    if (!info)
        throw FormatError("the model has no tensor '" + tensor + "', which a " + m_config.modelType + " model needs",
            ErrorContext { m_checkpoint.path().string(), tensor, {} });
    const bool decoded = m_checkpoint.quantization().recipes.count(tensor) > 0 || info->dtype == DType::F8_E4M3
        || info->dtype == DType::F8_E5M2;
    const at::Tensor table = decoded ? m_checkpoint.loadDequantized(tensor) : m_checkpoint.loadLazy(tensor);
    if (table.dim() != 2 || table.size(1) != m_config.hidden)
        throw FormatError("shape does not fit the config (expected rows of " + std::to_string(m_config.hidden) + ")",
            ErrorContext { info->source, tensor, {} });
    return table.index_select(0, ids).to(at::kFloat).contiguous();
}

std::uint64_t ModelBlocks::layerBytes(std::int64_t layer) const
{
    const std::string prefix = layerName(layer) + ".";
    std::uint64_t total = 0;
    for (const TensorInfo& t : m_checkpoint.tensors()) {
        if (t.name.compare(0, prefix.size(), prefix) == 0)
            total += static_cast<std::uint64_t>(t.numel()) * sizeof(float);
    }
    return total;
}

void ModelBlocks::release(const Block& block) const
{
    for (const std::string& t : block.tensors())
        m_checkpoint.release(t);
}

void returnFreedMemory(std::uint64_t blockBytes)
{
    // Worth a system call (and the page faults of re-growing the heap) only for large blocks,
    // whose freed conversion buffers would otherwise stay resident.
    if (blockBytes >= (std::uint64_t(64) << 20))
        ::malloc_trim(0);
}

void ModelBlocks::releaseEmbeddings() const
{
    for (const std::string& t : m_embeddingTensors)
        m_checkpoint.release(t);
}

} // namespace qs
