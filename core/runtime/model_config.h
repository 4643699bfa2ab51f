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
    std::string modelType; // as config.json says: "llama", "mistral", "qwen2", "granite"
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
    int eosToken = 2;

    double attentionScale() const;
};

// Reads the fields of a supported model type; UsageError naming the model type otherwise (the
// GPT-2, nanoGPT and BERT families are not implemented yet), FormatError for a field that is
// missing or inconsistent (heads not dividing the hidden size, kv heads not dividing heads).
ModelConfig modelConfigFromJson(const nlohmann::json& config);

} // namespace qs
