// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/mapped_file.h"
#include "io/tensor_info.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qs {

// One checkpoint data file, opened and catalogued: every tensor's dtype, shape, strides and
// absolute offset into `mapping`. Opening reads headers (and a pickle) only, never tensor data.
struct DataFileContents
{
    // "safetensors", "pytorch-zip", "pytorch-legacy", "llama2c" or "numpy-pickle".
    std::string format;
    // How the tensors are organised inside: "state_dict", "nanogpt", ... (empty for safetensors).
    std::string layout;
    std::shared_ptr<const MappedFile> mapping;
    std::vector<TensorInfo> tensors; // `source` is the file, offsets are absolute
    std::map<std::string, std::string> metadata;
    nlohmann::json config; // a config the file itself implies (llama2.c), or null
    std::vector<std::string> notes; // things the user should know: skipped optimizer state, ...
};

// What the first bytes of a file say it is.
enum class DataFileKind
{
    Safetensors,
    TorchZip,
    TorchLegacy,
    Llama2c,
    Pickle, // a bare pickle (protocol 2 to 5): a .pkl of numpy arrays
    Unknown,
};
DataFileKind sniffDataFile(const std::uint8_t* data, std::uint64_t size);

// Opens any supported data file by its content (not its name). Throws FormatError naming the
// file and the problem for anything it cannot read.
DataFileContents openDataFile(const std::filesystem::path& file);

// PyTorch files (zip or legacy), implemented in torch_file.cpp.
DataFileContents openTorchFile(const std::shared_ptr<const MappedFile>& mapping, DataFileKind kind);
// A pickled dict of numpy arrays (the nanoGPT fork's .pkl), in numpy_pickle_file.cpp.
DataFileContents openNumpyPickle(const std::shared_ptr<const MappedFile>& mapping);

} // namespace qs
