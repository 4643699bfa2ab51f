#include "io/checkpoint.h"

#include "error.h"
#include "io/safetensors_file.h"
#include "io/torch_dtype.h"

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
    fs::path path;
    fs::path folder;
    std::vector<std::shared_ptr<const SafetensorsFile>> files;
    std::vector<TensorInfo> tensors;
    std::vector<std::size_t> fileOf; // parallel to `tensors`
    std::unordered_map<std::string, std::size_t> byName;
    nlohmann::json config = nlohmann::json::object();
    std::map<std::string, std::string> metadata;

    // The tensor and the mapping holding its bytes; UsageError for an unknown name.
    std::pair<const TensorInfo*, const std::shared_ptr<const MappedFile>&> locate(std::string_view name) const
    {
        const auto it = byName.find(std::string(name));
        if (it == byName.end())
            throw UsageError(
                "no such tensor in this checkpoint", ErrorContext { path.string(), std::string(name), {} });
        return { &tensors[it->second], files[fileOf[it->second]]->mapping() };
    }

    void addFile(std::shared_ptr<const SafetensorsFile> file)
    {
        const std::size_t index = files.size();
        for (const auto& t : file->tensors()) {
            const auto [it, inserted] = byName.emplace(t.name, tensors.size());
            if (!inserted)
                throw FormatError(
                    "the tensor is stored twice: in " + tensors[it->second].source + " and in " + file->path().string(),
                    ErrorContext { path.string(), t.name, {} });
            tensors.push_back(t);
            fileOf.push_back(index);
        }
        if (files.empty())
            metadata = file->header().metadata;
        files.push_back(std::move(file));
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
        impl.addFile(SafetensorsFile::open(shardPath(indexFile, shard)));

    for (auto it = map->begin(); it != map->end(); ++it) {
        const auto found = impl.byName.find(it.key());
        const auto expected = shardPath(indexFile, it.value().get<std::string>()).string();
        if (found == impl.byName.end() || impl.tensors[found->second].source != expected)
            throw FormatError("the index places this tensor in " + it.value().get<std::string>()
                    + ", but that shard does not contain it",
                ErrorContext { indexFile.string(), it.key(), {} });
    }
    impl.format = "safetensors-sharded";
}

[[noreturn]] void unsupported(const fs::path& path, const std::string& what)
{
    throw FormatError(what
            + "; this version of QuantScope reads safetensors checkpoints (a .safetensors file, "
              "a model.safetensors.index.json, or a folder holding them)",
        ErrorContext { path.string(), {}, {} });
}

void openFolder(Checkpoint::Impl& impl, const fs::path& folder)
{
    if (fs::exists(folder / "model.safetensors.index.json"))
        return openIndex(impl, folder / "model.safetensors.index.json");
    if (fs::exists(folder / "model.safetensors")) {
        impl.addFile(SafetensorsFile::open(folder / "model.safetensors"));
        impl.format = "safetensors";
        return;
    }
    std::vector<fs::path> found;
    std::vector<std::string> others;
    for (const auto& entry : fs::directory_iterator(folder)) {
        const auto name = entry.path().filename().string();
        if (entry.is_regular_file() && endsWith(name, ".safetensors"))
            found.push_back(entry.path());
        else if (endsWith(name, ".bin") || endsWith(name, ".pt") || endsWith(name, ".pth"))
            others.push_back(name);
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) {
        if (!others.empty())
            unsupported(folder, "the folder holds PyTorch weights (" + others.front() + ") but no safetensors");
        unsupported(folder, "the folder holds no checkpoint files");
    }
    for (const auto& f : found)
        impl.addFile(SafetensorsFile::open(f));
    impl.format = found.size() == 1 ? "safetensors" : "safetensors-sharded";
}

at::Tensor viewOf(const std::shared_ptr<const MappedFile>& mapping, const TensorInfo& info)
{
    const auto type = toScalarType(info.dtype);
    const auto options = at::TensorOptions().dtype(type).device(at::kCPU);
    auto* data = const_cast<std::uint8_t*>(mapping->data() + info.offset);
    if (reinterpret_cast<std::uintptr_t>(data) % dtypeSize(info.dtype) != 0) {
        // Misaligned data would break vectorised kernels: copy this one tensor.
        at::Tensor copy = at::empty(info.shape, options);
        std::memcpy(copy.data_ptr(), data, info.bytes);
        return copy;
    }
    auto keepAlive = mapping;
    return at::from_blob(
        data, info.shape, [keepAlive](void*) {}, options);
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
        if (endsWith(name, ".index.json")) {
            openIndex(*impl, path);
        } else if (endsWith(name, ".bin") || endsWith(name, ".pt") || endsWith(name, ".pth")) {
            unsupported(path, "PyTorch pickle checkpoints cannot be read yet");
        } else {
            impl->addFile(SafetensorsFile::open(path));
            impl->format = "safetensors";
        }
    }
    if (fs::exists(impl->folder / "config.json"))
        impl->config = readJsonFile(impl->folder / "config.json");
    if (!impl->config.is_object())
        throw FormatError(
            "config.json is not a JSON object", ErrorContext { (impl->folder / "config.json").string(), {}, {} });

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
    std::vector<fs::path> out;
    for (const auto& f : m_impl->files)
        out.push_back(f->path());
    return out;
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
        total += t.bytes;
    return total;
}

std::int64_t Checkpoint::parameterCount() const
{
    std::int64_t total = 0;
    for (const auto& t : m_impl->tensors)
        total += t.numel();
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
    return RawBytes { mapping, mapping->data() + t->offset, t->bytes };
}

void Checkpoint::release(std::string_view name) const
{
    if (find(name)) {
        const auto [t, mapping] = m_impl->locate(name);
        mapping->dontNeed(t->offset, t->bytes);
    }
}

} // namespace qs
