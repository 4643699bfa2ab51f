// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The architecture of a model to run, read from its config.json (or the configuration a
// llama2.c header implies). Plain data.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace qs {

enum class ModelFamily : std::uint8_t
{
    Llama, // Llama, Mistral, Qwen2, Granite: RMSNorm, RoPE, grouped-query attention, SwiGLU
    Gpt2, // GPT-2 (Hugging Face) and nanoGPT (karpathy and the ReaLLMASIC quantization fork)
    Bert, // BERT and RoBERTa masked-LM encoders
};

enum class NormKind : std::uint8_t
{
    RmsNorm,
    LayerNorm,
};

struct RopeScaling
{
    std::string type; // "" (none), "linear", "llama3"
    double factor = 1;
    double lowFreqFactor = 1; // llama3
    double highFreqFactor = 4; // llama3
    double originalMaxPositions = 8192; // llama3
};

struct ModelConfig
{
    ModelFamily family = ModelFamily::Llama;
    std::string modelType; // "llama", "mistral", "qwen2", "granite", "gpt2", "nanogpt", "bert", "roberta"
    std::int64_t vocabSize = 0;
    std::int64_t hidden = 0;
    std::int64_t layers = 0;
    std::int64_t heads = 0;
    std::int64_t kvHeads = 0;
    std::int64_t headDim = 0;
    std::int64_t intermediate = 0;
    std::int64_t maxPositions = 0;
    double normEps = 1e-6;
    double ropeTheta = 10000;
    RopeScaling ropeScaling;
    // llama2.c rotates interleaved pairs (x[2i], x[2i+1]); Hugging Face the two halves.
    bool ropeInterleaved = false;
    bool tieEmbeddings = false;
    bool qkvBias = false; // Qwen2
    // Granite's multipliers (1 and 0 elsewhere; attentionMultiplier 0 means 1/sqrt(headDim)).
    double embeddingMultiplier = 1;
    double attentionMultiplier = 0;
    double residualMultiplier = 1;
    double logitsScaling = 1;
    int bosToken = 1;
    int eosToken = 2; // -1: none (generation runs to its step count)

    // GPT-2 and BERT families (the Llama family leaves the defaults).
    NormKind norm = NormKind::RmsNorm; // the norms inside the layers
    NormKind finalNorm = NormKind::RmsNorm; // GPT-2's ln_f (nanoGPT fork: norm_variant_output)
    bool normBias = false; // LayerNorm with a bias
    std::string activation = "silu"; // a name layers::activation knows
    bool linearBias = false; // every Linear has a bias (a GPT-2/nanoGPT with bias, BERT)
    bool conv1dWeights = false; // GPT-2's Conv1D: weights stored [in, out]
    bool separateQkv = false; // nanoGPT fork: c_attn_q/k/v instead of the fused c_attn
    bool absolutePositions = true; // learned position embeddings (wpe, position_embeddings)
    // RoBERTa: positions count from padding_idx + 1 (2); the position table has that many
    // extra rows, so maxPositions is max_position_embeddings minus the offset.
    std::int64_t positionOffset = 0;
    std::int64_t typeVocabSize = 0; // BERT's token-type embeddings (row 0 is used)
    int padToken = -1;
    int maskToken = -1; // config's mask_token_id, when it has one
    // nanoGPT fork: activation(x - mlpInputOffset) - mlpOutputOffset (the buffers win when stored).
    double mlpInputOffset = 0;
    double mlpOutputOffset = 0;

    double attentionScale() const;
    // Decoders predict the next token; encoders (BERT, RoBERTa) masked ones.
    bool causal() const { return family != ModelFamily::Bert; }
};

// Reads the fields of a supported model type: llama, mistral, qwen2, granite, gpt2, nanogpt
// (karpathy's model_args or the ReaLLMASIC fork's, with its default architecture), bert,
// roberta. UsageError naming the model type or the unsupported option otherwise, FormatError
// for a field that is missing or inconsistent (heads not dividing the hidden size, kv heads not
// dividing heads).
ModelConfig modelConfigFromJson(const nlohmann::json& config);

// UsageError unless layers::activation runs the named activation function: gelu (erf),
// gelu_new / gelu_pytorch_tanh / gelu_fast (tanh approximation), relu, silu / swish.
void checkActivation(const std::string& name);

} // namespace qs
