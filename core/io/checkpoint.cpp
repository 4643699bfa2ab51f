#include "io/checkpoint.h"

#include "error.h"
#include "io/data_file.h"
#include "io/llama2c_tokenizer.h"
#include "io/torch_dtype.h"
#include "quant/dequantize.h"
#include "quant/fp8.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

namespace qs {
namespace fs = std::filesystem;

struct Checkpoint::Impl
{
    std::string format;
    std::string layout;
    fs::path path;
    fs::path folder;
    std::vector<fs::path> filePaths;
    std::vector<std::shared_ptr<const MappedFile>> mappings;
    std::vector<TensorInfo> tensors;
    std::vector<std::size_t> fileOf; // parallel to `tensors`
    std::unordered_map<std::string, std::size_t> byName;
    nlohmann::json config = nlohmann::json::object();
    nlohmann::json impliedConfig; // from the data file itself (llama2.c, nanoGPT model_args)
    std::map<std::string, std::string> metadata;
    std::vector<std::string> notes;
    QuantizationInfo quantization;
    fs::path tokenizer;

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

bool endsWith(const std::string& s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
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

// The highest element index a strided tensor reaches, plus one (its storage span).
std::uint64_t spanElements(const TensorInfo& info)
{
    if (info.isContiguous())
        return static_cast<std::uint64_t>(info.numel());
    std::uint64_t last = 0;
    for (std::size_t i = 0; i < info.shape.size(); ++i) {
        if (info.shape[i] == 0)
            return 0;
        last += static_cast<std::uint64_t>(info.shape[i] - 1) * static_cast<std::uint64_t>(info.strides[i]);
    }
    return last + 1;
}

at::Tensor viewOf(const std::shared_ptr<const MappedFile>& mapping, const TensorInfo& info)
{
    const auto type = toScalarType(info.dtype);
    const auto options = at::TensorOptions().dtype(type).device(at::kCPU);
    auto* data = const_cast<std::uint8_t*>(mapping->data() + info.offset);
    const std::uint64_t spanBytes = spanElements(info) * dtypeSize(info.dtype);
    if (info.offset + spanBytes > mapping->size())
        throw FormatError("the tensor's data runs past the end of the file");
    const auto strides = info.isContiguous() ? contiguousStrides(info.shape) : info.strides;
    if (reinterpret_cast<std::uintptr_t>(data) % dtypeSize(info.dtype) != 0) {
        // Misaligned data would break vectorised kernels: copy this one tensor's span.
        at::Tensor copy = at::empty({ static_cast<std::int64_t>(spanElements(info)) }, options);
        std::memcpy(copy.data_ptr(), data, spanBytes);
        return copy.as_strided(info.shape, strides);
    }
    auto keepAlive = mapping;
    return at::from_blob(
        data, info.shape, strides, [keepAlive](void*) {}, options);
}

// Copies a strided tensor's elements into row-major order, byte-wise (works for any dtype).
std::vector<std::uint8_t> gatherStrided(const std::uint8_t* base, const TensorInfo& info)
{
    const std::size_t elem = dtypeSize(info.dtype);
    std::vector<std::uint8_t> out(info.bytes);
    const std::size_t rank = info.shape.size();
    std::vector<std::int64_t> index(rank, 0);
    const std::int64_t n = info.numel();
    std::uint64_t src = 0; // element offset of `index`
    for (std::int64_t i = 0; i < n; ++i) {
        std::memcpy(out.data() + static_cast<std::size_t>(i) * elem, base + src * elem, elem);
        for (std::size_t d = rank; d-- > 0;) { // odometer increment
            src += static_cast<std::uint64_t>(info.strides[d]);
            if (++index[d] < info.shape[d])
                break;
            src -= static_cast<std::uint64_t>(info.strides[d] * info.shape[d]);
            index[d] = 0;
        }
    }
    return out;
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

Checkpoint Checkpoint::open(const fs::path& path)
{
    auto impl = std::make_shared<Impl>();
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status))
        throw IoError("no such file or folder", ErrorContext { path.string(), {}, {} });
    impl->path = path;

    const std::string name = path.filename().string();
    if (fs::is_directory(status)) {
        impl->folder = path;
        openFolder(*impl, path);
    } else {
        impl->folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
        if (endsWith(name, ".index.json"))
            openIndex(*impl, path);
        else
            impl->addFile(openDataFile(path));
    }
    if (fs::exists(impl->folder / "config.json")) {
        impl->config = readJsonFile(impl->folder / "config.json");
        if (!impl->config.is_object())
            throw FormatError(
                "config.json is not a JSON object", ErrorContext { (impl->folder / "config.json").string(), {}, {} });
    } else if (impl->impliedConfig.is_object()) {
        impl->config = impl->impliedConfig;
    } else if (impl->layout == "nanogpt") {
        const auto implied = nanogptConfig(impl->metadata);
        if (implied.is_object())
            impl->config = implied;
    }

    impl->quantization = detectQuantization(impl->tensors, impl->config, impl->folder);
    if (impl->format == "llama2c") {
        const int vocab = impl->config.value("vocab_size", 0);
        if (const auto tok = Llama2cTokenizer::findNextTo(impl->filePaths.front(), vocab)) {
            try {
                const auto tokenizer = Llama2cTokenizer::read(*tok, vocab);
                impl->tokenizer = *tok;
                impl->notes.push_back(
                    "tokenizer " + tok->filename().string() + ": " + std::to_string(tokenizer.size()) + " tokens");
            } catch (const Error& e) {
                impl->notes.push_back(std::string("tokenizer not usable: ") + e.what());
            }
        }
    } else if (fs::exists(impl->folder / "tokenizer.json")) {
        impl->tokenizer = impl->folder / "tokenizer.json";
    }

    Checkpoint checkpoint;
    checkpoint.m_impl = std::move(impl);
    return checkpoint;
}

const std::string& Checkpoint::format() const
{
    return m_impl->format;
}

const fs::path& Checkpoint::path() const
{
    return m_impl->path;
}

const fs::path& Checkpoint::folder() const
{
    return m_impl->folder;
}

std::vector<fs::path> Checkpoint::dataFiles() const
{
    return m_impl->filePaths;
}

const std::string& Checkpoint::layout() const
{
    return m_impl->layout;
}

const std::vector<std::string>& Checkpoint::notes() const
{
    return m_impl->notes;
}

const std::vector<TensorInfo>& Checkpoint::tensors() const
{
    return m_impl->tensors;
}

const TensorInfo* Checkpoint::find(std::string_view name) const
{
    const auto it = m_impl->byName.find(std::string(name));
    return it == m_impl->byName.end() ? nullptr : &m_impl->tensors[it->second];
}

const TensorInfo& Checkpoint::info(std::string_view name) const
{
    if (const auto* t = find(name))
        return *t;
    throw UsageError(
        "no such tensor in this checkpoint", ErrorContext { m_impl->path.string(), std::string(name), {} });
}

std::uint64_t Checkpoint::totalBytes() const
{
    std::uint64_t total = 0;
    for (const auto& t : m_impl->tensors)
        total += t.aliasOf.empty() ? t.bytes : 0;
    return total;
}

std::int64_t Checkpoint::parameterCount() const
{
    std::int64_t total = 0;
    for (const auto& t : m_impl->tensors)
        total += t.aliasOf.empty() ? t.numel() : 0;
    return total;
}

const nlohmann::json& Checkpoint::config() const
{
    return m_impl->config;
}

std::string Checkpoint::modelType() const
{
    const auto it = m_impl->config.find("model_type");
    return it != m_impl->config.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const std::map<std::string, std::string>& Checkpoint::metadata() const
{
    return m_impl->metadata;
}

at::Tensor Checkpoint::load(std::string_view name) const
{
    const auto [t, mapping] = m_impl->locate(name);
    try {
        return viewOf(mapping, *t);
    } catch (const FormatError& e) {
        throw FormatError(e.reason(), ErrorContext { t->source, t->name, t->offset });
    }
}

Checkpoint::RawBytes Checkpoint::raw(std::string_view name) const
{
    const auto [t, mapping] = m_impl->locate(name);
    const std::uint64_t spanBytes = spanElements(*t) * dtypeSize(t->dtype);
    if (t->offset + spanBytes > mapping->size())
        throw FormatError(
            "the tensor's data runs past the end of the file", ErrorContext { t->source, t->name, t->offset });
    if (t->isContiguous())
        return RawBytes { mapping, mapping->data() + t->offset, t->bytes };
    auto copy = std::make_shared<std::vector<std::uint8_t>>(gatherStrided(mapping->data() + t->offset, *t));
    return RawBytes { copy, copy->data(), copy->size() };
}

at::Tensor Checkpoint::loadFloat(std::string_view name) const
{
    const auto [t, mapping] = m_impl->locate(name);
    if (t->dtype == DType::F8_E4M3 || t->dtype == DType::F8_E5M2) {
        const RawBytes bytes = raw(name);
        at::Tensor out = at::empty(t->shape, at::TensorOptions().dtype(at::kFloat));
        decodeFp8(t->dtype == DType::F8_E4M3 ? Fp8Format::E4M3 : Fp8Format::E5M2, bytes.data, bytes.size,
            out.data_ptr<float>());
        return out;
    }
    return load(name).to(at::kFloat);
}

const fs::path& Checkpoint::tokenizerFile() const
{
    return m_impl->tokenizer;
}

const QuantizationInfo& Checkpoint::quantization() const
{
    return m_impl->quantization;
}

at::Tensor Checkpoint::loadDequantized(std::string_view name) const
{
    const auto& recipes = m_impl->quantization.recipes;
    const auto it = recipes.find(std::string(name));
    if (it == recipes.end())
        return loadFloat(name);
    return dequantizeWeight(*this, it->second);
}

void Checkpoint::release(std::string_view name) const
{
    if (find(name)) {
        const auto [t, mapping] = m_impl->locate(name);
        mapping->dontNeed(t->offset, t->bytes);
    }
}

} // namespace qs
