// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qs {

class Checkpoint;

// What a person wants to know first about an opened checkpoint, computed from its catalog and
// file sizes only (no tensor data is read). Shown by the GUI's summary and `inspect`.
struct CheckpointSummary
{
    struct DTypeShare
    {
        DType dtype = DType::F32;
        std::size_t tensors = 0;
        std::int64_t parameters = 0;
        std::uint64_t bytes = 0;
    };
    struct DataFile
    {
        std::filesystem::path path;
        std::uint64_t bytesOnDisk = 0;
        std::size_t tensors = 0;
    };

    std::string format;
    std::string layout;
    std::string modelType;
    std::string architecture; // config.json architectures[0]
    // Sizes from the config (Hugging Face, GPT-2/nanoGPT or llama2.c names); 0 when unknown.
    std::int64_t layers = 0;
    std::int64_t hiddenSize = 0;
    std::int64_t heads = 0;
    std::int64_t vocabSize = 0;
    bool tiedEmbeddings = false; // tie_word_embeddings
    // "5 layers · hidden 64 · 8 heads · vocab 512 · tied embeddings", or empty.
    std::string shape() const;
    std::vector<DataFile> files;
    std::uint64_t bytesOnDisk = 0; // data files only
    std::uint64_t tensorBytes = 0; // stored bytes of distinct tensors (shared storages counted once)
    std::int64_t parameters = 0; // elements of distinct tensors (tied copies counted once)
    std::size_t tensorCount = 0;
    std::vector<std::pair<std::string, std::string>> tiedTensors; // (tensor, the tensor it shares storage with)
    std::vector<DTypeShare> dtypes; // most parameters first
    std::string quantization; // the scheme in one line, or empty
    std::size_t quantizedWeights = 0;
    std::string tokenizer; // file name, or empty
    std::vector<std::string> notes;

    // "BF16 96% · F32 4%": the dtype mix by parameters.
    std::string dtypeMix() const;
};

CheckpointSummary summarizeCheckpoint(const Checkpoint& checkpoint);

} // namespace qs
