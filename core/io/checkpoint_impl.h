// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Checkpoint's shared state, for the files that implement Checkpoint (checkpoint.cpp: tensor
// access, with libtorch; checkpoint_discovery.cpp: finding and opening the files, without).
#include "error.h"
#include "io/checkpoint.h"
#include "io/data_file.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace qs {

struct Checkpoint::Impl
{
    std::string format;
    std::string layout;
    std::filesystem::path path;
    std::filesystem::path folder;
    std::vector<std::filesystem::path> filePaths;
    std::vector<std::shared_ptr<const MappedFile>> mappings;
    std::vector<TensorInfo> tensors;
    std::vector<std::size_t> fileOf; // parallel to `tensors`
    std::unordered_map<std::string, std::size_t> byName;
    nlohmann::json config = nlohmann::json::object();
    nlohmann::json impliedConfig; // from the data file itself (llama2.c, nanoGPT model_args)
    std::map<std::string, std::string> metadata;
    std::vector<std::string> notes;
    QuantizationInfo quantization;
    std::filesystem::path tokenizer;

    // The tensor and the mapping holding its bytes; UsageError for an unknown name.
    std::pair<const TensorInfo*, const std::shared_ptr<const MappedFile>&> locate(std::string_view name) const
    {
        const auto it = byName.find(std::string(name));
        if (it == byName.end())
            throw UsageError(
                "no such tensor in this checkpoint", ErrorContext { path.string(), std::string(name), {} });
        return { &tensors[it->second], mappings[fileOf[it->second]] };
    }

    void addFile(DataFileContents file)
    {
        const std::size_t index = mappings.size();
        for (auto& t : file.tensors) {
            const auto [it, inserted] = byName.emplace(t.name, tensors.size());
            if (!inserted)
                throw FormatError("the tensor is stored twice: in " + tensors[it->second].source + " and in "
                        + file.mapping->path().string(),
                    ErrorContext { path.string(), t.name, {} });
            tensors.push_back(std::move(t));
            fileOf.push_back(index);
        }
        if (mappings.empty()) {
            metadata = std::move(file.metadata);
            layout = file.layout;
            impliedConfig = std::move(file.config);
            format = file.format;
        } else if (file.format != format) {
            throw FormatError("the shards mix formats (" + format + " and " + file.format + ")",
                ErrorContext { file.mapping->path().string(), {}, {} });
        }
        for (auto& n : file.notes)
            notes.push_back(std::move(n));
        filePaths.push_back(file.mapping->path());
        mappings.push_back(std::move(file.mapping));
    }
};

// Fills `impl` from what the user opened: a data file, an index, or a model folder; then the
// config (config.json or what the files imply), quantization scheme and tokenizer.
void discoverCheckpoint(Checkpoint::Impl& impl, const std::filesystem::path& path);

} // namespace qs
