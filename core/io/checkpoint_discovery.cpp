// SPDX-License-Identifier: GPL-3.0-or-later
// Finding a checkpoint's files and opening them: data files, indexes, model folders, the
// config and tokenizer beside them, and the quantization scheme they carry.
#include "io/checkpoint_impl.h"
#include "text.h"
#include "tokenize/llama2c_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace qs {
namespace fs = std::filesystem;
namespace {

nlohmann::json readJsonFile(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw IoError("cannot open the file", ErrorContext { file.string(), {}, {} });
    std::stringstream buffer;
    buffer << in.rdbuf();
    try {
        return nlohmann::json::parse(buffer.str());
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(std::string("not valid JSON: ") + e.what(), ErrorContext { file.string(), {}, {} });
    }
}

// A shard named in an index must be a plain file name in the index's folder.
fs::path shardPath(const fs::path& indexFile, const std::string& shard)
{
    const fs::path rel(shard);
    if (shard.empty() || rel.is_absolute() || rel.has_parent_path() || shard == "." || shard == "..")
        throw FormatError("weight_map names shard '" + shard + "', which is not a file name in the same folder",
            ErrorContext { indexFile.string(), {}, {} });
    return indexFile.parent_path() / rel;
}

void openIndex(Checkpoint::Impl& impl, const fs::path& indexFile)
{
    const nlohmann::json index = readJsonFile(indexFile);
    const auto map = index.find("weight_map");
    if (!index.is_object() || map == index.end() || !map->is_object())
        throw FormatError("the index has no 'weight_map' object", ErrorContext { indexFile.string(), {}, {} });

    std::vector<std::string> shardOrder;
    std::set<std::string> seen;
    for (auto it = map->begin(); it != map->end(); ++it) {
        if (!it.value().is_string())
            throw FormatError("weight_map value is not a file name", ErrorContext { indexFile.string(), it.key(), {} });
        const auto shard = it.value().get<std::string>();
        if (seen.insert(shard).second)
            shardOrder.push_back(shard);
    }
    std::sort(shardOrder.begin(), shardOrder.end());
    for (const auto& shard : shardOrder)
        impl.addFile(openDataFile(shardPath(indexFile, shard)));

    for (auto it = map->begin(); it != map->end(); ++it) {
        const auto found = impl.byName.find(it.key());
        const auto expected = shardPath(indexFile, it.value().get<std::string>()).string();
        if (found == impl.byName.end() || impl.tensors[found->second].source != expected)
            throw FormatError("the index places this tensor in " + it.value().get<std::string>()
                    + ", but that shard does not contain it",
                ErrorContext { indexFile.string(), it.key(), {} });
    }
    impl.format += "-sharded";
}

bool isTokenizerFile(const std::string& name)
{
    return name == "tokenizer.bin" || (name.rfind("tok", 0) == 0 && endsWith(name, ".bin") && name != "tokenizer.bin");
}

void openFolder(Checkpoint::Impl& impl, const fs::path& folder)
{
    for (const char* index : { "model.safetensors.index.json", "pytorch_model.bin.index.json" }) {
        if (fs::exists(folder / index))
            return openIndex(impl, folder / index);
    }
    for (const char* single : { "model.safetensors", "pytorch_model.bin" }) {
        if (fs::exists(folder / single))
            return impl.addFile(openDataFile(folder / single));
    }
    std::vector<fs::path> safetensors;
    std::vector<fs::path> others;
    for (const auto& entry : fs::directory_iterator(folder)) {
        const auto name = entry.path().filename().string();
        if (!entry.is_regular_file())
            continue;
        if (endsWith(name, ".safetensors"))
            safetensors.push_back(entry.path());
        else if ((endsWith(name, ".bin") && !isTokenizerFile(name)) || endsWith(name, ".pt") || endsWith(name, ".pth"))
            others.push_back(entry.path());
    }
    std::sort(safetensors.begin(), safetensors.end());
    std::sort(others.begin(), others.end());
    if (!safetensors.empty()) {
        for (const auto& f : safetensors)
            impl.addFile(openDataFile(f));
        if (safetensors.size() > 1)
            impl.format += "-sharded";
        return;
    }
    if (others.size() == 1)
        return impl.addFile(openDataFile(others.front()));
    if (others.empty())
        throw FormatError("the folder holds no checkpoint files (.safetensors, .bin, .pt, .pth or an index)",
            ErrorContext { folder.string(), {}, {} });
    std::string names;
    for (const auto& f : others)
        names += (names.empty() ? "" : ", ") + f.filename().string();
    throw FormatError("the folder holds several checkpoint files (" + names + ") and no index; open one of them",
        ErrorContext { folder.string(), {}, {} });
}

nlohmann::json nanogptConfig(const std::map<std::string, std::string>& metadata)
{
    const auto it = metadata.find("model_args");
    if (it == metadata.end())
        return nullptr;
    auto args = nlohmann::json::parse(it->second, nullptr, false);
    if (!args.is_object())
        return nullptr;
    args["model_type"] = "nanogpt";
    return args;
}

} // namespace

void discoverCheckpoint(Checkpoint::Impl& impl, const fs::path& path)
{
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status))
        throw IoError("no such file or folder", ErrorContext { path.string(), {}, {} });
    impl.path = path;

    const std::string name = path.filename().string();
    if (fs::is_directory(status)) {
        impl.folder = path;
        openFolder(impl, path);
    } else {
        impl.folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
        if (endsWith(name, ".index.json"))
            openIndex(impl, path);
        else
            impl.addFile(openDataFile(path));
    }
    if (fs::exists(impl.folder / "config.json")) {
        impl.config = readJsonFile(impl.folder / "config.json");
        if (!impl.config.is_object())
            throw FormatError(
                "config.json is not a JSON object", ErrorContext { (impl.folder / "config.json").string(), {}, {} });
    } else if (impl.impliedConfig.is_object()) {
        impl.config = impl.impliedConfig;
    } else if (impl.layout == "nanogpt") {
        const auto implied = nanogptConfig(impl.metadata);
        if (implied.is_object())
            impl.config = implied;
    }

    impl.quantization = detectQuantization(impl.tensors, impl.config, impl.folder);
    if (impl.format == "llama2c") {
        const int vocab = impl.config.value("vocab_size", 0);
        if (const auto tok = Llama2cTokenizer::findNextTo(impl.filePaths.front(), vocab)) {
            try {
                const auto tokenizer = Llama2cTokenizer::read(*tok, vocab);
                impl.tokenizer = *tok;
                impl.notes.push_back(
                    "tokenizer " + tok->filename().string() + ": " + std::to_string(tokenizer.size()) + " tokens");
            } catch (const Error& e) {
                impl.notes.push_back(std::string("tokenizer not usable: ") + e.what());
            }
        }
    } else if (fs::exists(impl.folder / "tokenizer.json")) {
        impl.tokenizer = impl.folder / "tokenizer.json";
    } else if (fs::exists(impl.folder / "tokenizer.model")) {
        impl.tokenizer = impl.folder / "tokenizer.model"; // SentencePiece (Llama-2 folders without tokenizer.json)
    } else if (fs::exists(impl.folder / "vocab.json") && fs::exists(impl.folder / "merges.txt")) {
        impl.tokenizer = impl.folder / "vocab.json"; // GPT-2 / RoBERTa slow tokenizer files
    } else if (fs::exists(impl.folder / "vocab.txt")) {
        impl.tokenizer = impl.folder / "vocab.txt"; // BERT's WordPiece vocabulary
    } else if (fs::exists(impl.folder / "meta.pkl")) {
        impl.tokenizer = impl.folder / "meta.pkl"; // nanoGPT's character vocabulary beside ckpt.pt
    }
}

} // namespace qs
