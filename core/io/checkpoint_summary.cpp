// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/checkpoint_summary.h"

#include "io/checkpoint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace qs {

std::string CheckpointSummary::dtypeMix() const
{
    std::string out;
    for (const auto& d : dtypes) {
        if (!out.empty())
            out += " · ";
        const double share
            = parameters > 0 ? 100.0 * static_cast<double>(d.parameters) / static_cast<double>(parameters) : 0;
        const long rounded = std::lround(share);
        out += std::string(dtypeName(d.dtype)) + " "
            + (rounded == 0 && d.parameters > 0 ? std::string("<1") : std::to_string(rounded)) + "%";
    }
    return out;
}

namespace {

std::int64_t firstInt(const nlohmann::json& config, std::initializer_list<const char*> keys)
{
    for (const char* key : keys) {
        const auto it = config.find(key);
        if (it != config.end() && it->is_number_integer())
            return it->get<std::int64_t>();
    }
    return 0;
}

} // namespace

std::string CheckpointSummary::shape() const
{
    std::vector<std::string> parts;
    if (layers)
        parts.push_back(std::to_string(layers) + " layers");
    if (hiddenSize)
        parts.push_back("hidden " + std::to_string(hiddenSize));
    if (heads)
        parts.push_back(std::to_string(heads) + " heads");
    if (vocabSize)
        parts.push_back("vocab " + std::to_string(vocabSize));
    if (tiedEmbeddings)
        parts.push_back("tied embeddings");
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : " · ") + p;
    return out;
}

CheckpointSummary summarizeCheckpoint(const Checkpoint& c)
{
    CheckpointSummary s;
    s.format = c.format();
    s.layout = c.layout();
    s.modelType = c.modelType();
    const auto& config = c.config();
    if (config.contains("architectures") && config["architectures"].is_array() && !config["architectures"].empty()
        && config["architectures"][0].is_string())
        s.architecture = config["architectures"][0].get<std::string>();
    s.layers = firstInt(config, { "num_hidden_layers", "n_layer", "num_layers" });
    s.hiddenSize = firstInt(config, { "hidden_size", "n_embd", "d_model" });
    s.heads = firstInt(config, { "num_attention_heads", "n_head" });
    s.vocabSize = firstInt(config, { "vocab_size" });
    const auto tie = config.find("tie_word_embeddings");
    s.tiedEmbeddings = tie != config.end() && tie->is_boolean() && tie->get<bool>();

    std::map<std::string, std::size_t> perFile;
    std::map<DType, CheckpointSummary::DTypeShare> shares;
    for (const auto& t : c.tensors()) {
        ++perFile[t.source];
        ++s.tensorCount;
        if (!t.aliasOf.empty()) {
            s.tiedTensors.emplace_back(t.name, t.aliasOf);
            continue;
        }
        auto& share = shares[t.dtype];
        share.dtype = t.dtype;
        ++share.tensors;
        share.parameters += t.numel();
        share.bytes += t.bytes;
        s.parameters += t.numel();
        s.tensorBytes += t.bytes;
    }
    for (const auto& path : c.dataFiles()) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(path, ec);
        CheckpointSummary::DataFile f { path, ec ? 0 : size, perFile[path.string()] };
        s.bytesOnDisk += f.bytesOnDisk;
        s.files.push_back(std::move(f));
    }
    for (const auto& [dtype, share] : shares)
        s.dtypes.push_back(share);
    std::stable_sort(
        s.dtypes.begin(), s.dtypes.end(), [](const auto& a, const auto& b) { return a.parameters > b.parameters; });
    s.quantization = c.quantization().summary;
    s.quantizedWeights = c.quantization().recipes.size();
    if (!c.tokenizerFile().empty())
        s.tokenizer = c.tokenizerFile().filename().string();
    s.notes = c.notes();
    return s;
}

} // namespace qs
