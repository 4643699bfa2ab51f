// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/llama2c_checkpoint.h"

#include "error.h"

#include <limits>
#include <optional>
#include <utility>

namespace qs {
namespace {

// More decoder layers than this is not a model but a corrupt header; it also bounds the catalog.
constexpr std::int32_t kMaxLayers = 65536;

std::uint32_t readU32(const std::uint8_t* p)
{
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}

std::int32_t readI32(const std::uint8_t* p)
{
    return static_cast<std::int32_t>(readU32(p));
}

// One array of the file: a single tensor, or one tensor per layer stacked along a first axis.
struct Block
{
    std::string name; // full name, or the part after "model.layers.N." when perLayer
    std::vector<std::int64_t> shape;
    bool perLayer = false;
    bool skipped = false; // in the file but not a weight (the legacy RoPE tables)
};

std::vector<Block> fileBlocks(const Llama2cConfig& c)
{
    const std::int64_t dim = c.dim, hidden = c.hiddenDim, kvDim = std::int64_t(c.dim) / c.nHeads * c.nKvHeads;
    const Block embed { "model.embed_tokens.weight", { c.vocabSize, dim } };
    const Block attnNorm { "input_layernorm.weight", { dim }, true };
    const Block ffnNorm { "post_attention_layernorm.weight", { dim }, true };
    const Block norm { "model.norm.weight", { dim } };
    const std::vector<Block> matrices = {
        { "self_attn.q_proj.weight", { dim, dim }, true },
        { "self_attn.k_proj.weight", { kvDim, dim }, true },
        { "self_attn.v_proj.weight", { kvDim, dim }, true },
        { "self_attn.o_proj.weight", { dim, dim }, true },
    };
    const std::vector<Block> mlp = {
        { "mlp.gate_proj.weight", { hidden, dim }, true }, // w1
        { "mlp.down_proj.weight", { dim, hidden }, true }, // w2
        { "mlp.up_proj.weight", { hidden, dim }, true }, // w3
    };
    std::vector<Block> blocks;
    if (c.version == 0) {
        const Block rope { "", { c.seqLen, std::int64_t(c.dim) / c.nHeads / 2 }, false, true };
        blocks = { embed, attnNorm };
        blocks.insert(blocks.end(), matrices.begin(), matrices.end());
        blocks.push_back(ffnNorm);
        blocks.insert(blocks.end(), mlp.begin(), mlp.end());
        blocks.insert(blocks.end(), { norm, rope, rope });
    } else {
        blocks = { attnNorm, ffnNorm, norm, embed };
        blocks.insert(blocks.end(), matrices.begin(), matrices.end());
        blocks.insert(blocks.end(), mlp.begin(), mlp.end());
    }
    if (!c.sharedClassifier)
        blocks.push_back({ "lm_head.weight", { c.vocabSize, dim } });
    return blocks;
}

std::string describeConfig(const Llama2cConfig& c)
{
    return "dim " + std::to_string(c.dim) + ", hidden_dim " + std::to_string(c.hiddenDim) + ", n_layers "
        + std::to_string(c.nLayers) + ", n_heads " + std::to_string(c.nHeads) + ", n_kv_heads "
        + std::to_string(c.nKvHeads) + ", vocab_size " + std::to_string(c.vocabSize) + ", seq_len "
        + std::to_string(c.seqLen) + (c.sharedClassifier ? ", shared classifier" : ", separate classifier");
}

// Why the config cannot describe a model, with the byte offset of the offending field; empty
// reason when it is plausible. `fieldsAt` is where the 7 ints start.
std::pair<std::string, std::uint64_t> configProblem(const Llama2cConfig& c, std::uint64_t fieldsAt)
{
    const std::pair<const char*, std::int32_t> fields[]
        = { { "dim", c.dim }, { "hidden_dim", c.hiddenDim }, { "n_layers", c.nLayers }, { "n_heads", c.nHeads },
              { "n_kv_heads", c.nKvHeads }, { "vocab_size", c.vocabSize }, { "seq_len", c.seqLen } };
    for (std::size_t i = 0; i < 7; ++i) {
        if (fields[i].second <= 0)
            return { std::string(fields[i].first) + " is " + std::to_string(fields[i].second) + "; it must be positive",
                fieldsAt + 4 * i };
    }
    if (c.nLayers > kMaxLayers)
        return { "n_layers is " + std::to_string(c.nLayers) + "; more than " + std::to_string(kMaxLayers)
                + " layers is not a plausible model",
            fieldsAt + 8 };
    if (c.dim % c.nHeads != 0)
        return { "dim " + std::to_string(c.dim) + " is not divisible by n_heads " + std::to_string(c.nHeads),
            fieldsAt + 12 };
    if (c.nHeads % c.nKvHeads != 0)
        return { "n_heads " + std::to_string(c.nHeads) + " is not a multiple of n_kv_heads "
                + std::to_string(c.nKvHeads),
            fieldsAt + 16 };
    if ((c.dim / c.nHeads) % 2 != 0)
        return { "head size " + std::to_string(c.dim / c.nHeads) + " (dim / n_heads) is odd; RoPE needs pairs",
            fieldsAt + 12 };
    return { {}, 0 };
}

// Walks the blocks in file order. Returns the file size they imply, or nothing when it does not
// fit in 64 bits. Appends the tensors to `out` when given.
std::optional<std::uint64_t> walk(const Llama2cConfig& c, const std::string& fileName, std::vector<TensorInfo>* out)
{
    std::uint64_t offset = c.headerBytes;
    for (const Block& block : fileBlocks(c)) {
        std::uint64_t bytes = 4;
        for (const auto d : block.shape) {
            if (__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes))
                return std::nullopt;
        }
        const int count = block.perLayer ? c.nLayers : 1;
        for (int layer = 0; layer < count; ++layer) {
            if (out && !block.skipped) {
                TensorInfo t;
                t.name = block.perLayer ? "model.layers." + std::to_string(layer) + "." + block.name : block.name;
                t.dtype = DType::F32;
                t.shape = block.shape;
                t.bytes = bytes;
                t.source = fileName;
                t.offset = offset;
                out->push_back(std::move(t));
            }
            if (__builtin_add_overflow(offset, bytes, &offset))
                return std::nullopt;
        }
    }
    return offset;
}

// The 7 ints of the header, in llama2.c's order.
void readFields(const std::uint8_t* p, Llama2cConfig& c)
{
    std::int32_t* fields[] = { &c.dim, &c.hiddenDim, &c.nLayers, &c.nHeads, &c.nKvHeads, &c.vocabSize, &c.seqLen };
    for (std::size_t i = 0; i < 7; ++i)
        *fields[i] = readI32(p + 4 * i);
}

// The config of a file without the magic; nothing when it is shorter than the header.
std::optional<Llama2cConfig> legacyConfig(const std::uint8_t* data, std::uint64_t size)
{
    if (size < kLlama2cLegacyHeaderBytes)
        return std::nullopt;
    Llama2cConfig c;
    c.version = 0;
    c.headerBytes = kLlama2cLegacyHeaderBytes;
    readFields(data, c);
    // A negative vocab_size marks a separate classifier (wcls) at the end of the file.
    if (c.vocabSize < 0 && c.vocabSize != std::numeric_limits<std::int32_t>::min()) {
        c.vocabSize = -c.vocabSize;
        c.sharedClassifier = false;
    }
    return c;
}

[[noreturn]] void fail(const std::string& fileName, const std::string& reason, std::optional<std::uint64_t> offset = {})
{
    throw FormatError(reason, ErrorContext { fileName, {}, offset });
}

} // namespace

bool looksLikeLlama2c(const std::uint8_t* data, std::uint64_t size)
{
    if (size >= 4 && readU32(data) == kLlama2cMagic)
        return true;
    const auto c = legacyConfig(data, size);
    if (!c || !configProblem(*c, 0).first.empty())
        return false;
    const auto expected = walk(*c, {}, nullptr);
    return expected && *expected == size;
}

bool hasPlausibleLlama2cHeader(const std::uint8_t* data, std::uint64_t size)
{
    const auto c = legacyConfig(data, size);
    return c && configProblem(*c, 0).first.empty();
}

Llama2cLayout parseLlama2c(const std::uint8_t* data, std::uint64_t size, const std::string& fileName)
{
    Llama2cLayout layout;
    Llama2cConfig& c = layout.config;
    std::uint64_t fieldsAt = 0;
    if (size >= 4 && readU32(data) == kLlama2cMagic) {
        if (size < 8)
            fail(fileName,
                "file of " + std::to_string(size) + " bytes ends inside the llama2.c header (magic without version)");
        c.version = readI32(data + 4);
        if (c.version == 2)
            fail(fileName,
                "llama2.c version 2 (the int8 Q8_0 export) is not supported; export the model as fp32 (version 1 or "
                "legacy)",
                4);
        if (c.version != 1)
            fail(fileName,
                "llama2.c version " + std::to_string(c.version) + " is not supported (only legacy and version 1)", 4);
        if (size < kLlama2cV1HeaderBytes)
            fail(fileName,
                "file of " + std::to_string(size) + " bytes is shorter than the 256-byte llama2.c version 1 header");
        c.headerBytes = kLlama2cV1HeaderBytes;
        fieldsAt = 8;
        readFields(data + fieldsAt, c);
        if (data[36] > 1)
            fail(fileName, "shared_classifier flag is " + std::to_string(data[36]) + "; it must be 0 or 1", 36);
        c.sharedClassifier = data[36] == 1;
        for (std::uint64_t i = 37; i < kLlama2cV1HeaderBytes; ++i) {
            if (data[i] != 0) {
                layout.notes.push_back(
                    "the header padding is not all zeros (first non-zero byte at " + std::to_string(i) + "); ignored");
                break;
            }
        }
    } else {
        const auto legacy = legacyConfig(data, size);
        if (!legacy)
            fail(fileName, "file of " + std::to_string(size) + " bytes is shorter than the 28-byte llama2.c header");
        c = *legacy;
    }

    const auto [problem, at] = configProblem(c, fieldsAt);
    if (!problem.empty())
        fail(fileName, problem, at);
    const auto expected = walk(c, fileName, nullptr);
    if (!expected)
        fail(fileName, "the header's sizes (" + describeConfig(c) + ") imply more than 2^64 bytes of weights");
    if (*expected != size) {
        const auto diff = *expected > size ? *expected - size : size - *expected;
        fail(fileName,
            "the header (" + describeConfig(c) + ") implies " + std::to_string(*expected) + " bytes but the file has "
                + std::to_string(size) + " (" + std::to_string(diff) + (*expected > size ? " missing)" : " extra)"));
    }
    walk(c, fileName, &layout.tensors);

    if (c.version == 0) {
        // The tables follow model.norm.weight: the last tensor, or the one before lm_head.weight.
        const auto& norm = layout.tensors[layout.tensors.size() - (c.sharedClassifier ? 1 : 2)];
        const std::int64_t half = c.dim / c.nHeads / 2;
        layout.notes.push_back("skipped the legacy RoPE tables freq_cis_real and freq_cis_imag (2 x ["
            + std::to_string(c.seqLen) + ", " + std::to_string(half) + "] fp32, "
            + std::to_string(2 * 4 * std::uint64_t(c.seqLen) * std::uint64_t(half)) + " bytes at byte "
            + std::to_string(norm.offset + norm.bytes) + "); RoPE is recomputed with theta 10000");
    }
    layout.notes.push_back(c.sharedClassifier
            ? "the classifier shares the token embedding (tie_word_embeddings); there is no lm_head.weight"
            : "the classifier is stored separately as lm_head.weight");
    layout.notes.push_back(
        "RoPE rotates interleaved pairs (x[2i], x[2i+1]); q_proj and k_proj rows are stored unpermuted, "
        "not in Hugging Face's rotate_half order");
    return layout;
}

nlohmann::json llama2cHfConfig(const Llama2cConfig& c)
{
    return nlohmann::json {
        { "model_type", "llama" },
        { "architectures", { "LlamaForCausalLM" } },
        { "hidden_size", c.dim },
        { "intermediate_size", c.hiddenDim },
        { "num_hidden_layers", c.nLayers },
        { "num_attention_heads", c.nHeads },
        { "num_key_value_heads", c.nKvHeads },
        { "vocab_size", c.vocabSize },
        { "max_position_embeddings", c.seqLen },
        { "hidden_act", "silu" },
        { "rms_norm_eps", 1e-5 },
        { "rope_theta", 10000.0 },
        { "tie_word_embeddings", c.sharedClassifier },
        { "bos_token_id", 1 },
        { "eos_token_id", 2 },
        { "torch_dtype", "float32" },
        { "quantscope_rope_layout", "interleaved" },
    };
}

} // namespace qs
