// SPDX-License-Identifier: GPL-3.0-or-later
// PyTorch checkpoint files: the zip container torch.save writes since 1.6 (read with libtorch's
// PyTorchStreamReader, stored records mapped in place) and the legacy format before it (a
// sequence of pickles followed by raw storages). The pickles go through QuantScope's
// restricted unpickler; libtorch's own pickle reader is not used (it mis-reads OrderedDicts).
#include "error.h"
#include "io/data_file.h"
#include "io/pickle/torch_state_dict.h"
#include "io/pickle/unpickler.h"

#include <c10/util/Exception.h>

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace qs {
namespace {

// PyTorchStreamReader reading from our mapping: no second file handle, no copies of the file.
class MappedReadAdapter final : public caffe2::serialize::ReadAdapterInterface
{
public:
    explicit MappedReadAdapter(std::shared_ptr<const MappedFile> mapping)
        : m_mapping(std::move(mapping))
    { }
    size_t size() const override { return m_mapping->size(); }
    size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override
    {
        if (pos >= m_mapping->size())
            return 0;
        n = static_cast<size_t>(std::min<uint64_t>(n, m_mapping->size() - pos));
        std::memcpy(buf, m_mapping->data() + pos, n);
        return n;
    }

private:
    std::shared_ptr<const MappedFile> m_mapping;
};

std::uint32_t le16(const std::uint8_t* p)
{
    return p[0] | (p[1] << 8);
}
std::uint32_t le32(const std::uint8_t* p)
{
    return p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t(p[3]) << 24);
}

std::uint64_t le64(const std::uint8_t* p)
{
    return le32(p) | (std::uint64_t(le32(p + 4)) << 32);
}

// The first line of a c10::Error, without libtorch's C++ stack trace.
std::string firstLine(const char* what)
{
    std::string s(what);
    const auto nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
}

// Checks that the zip record whose data starts at `dataOffset` is stored uncompressed and is
// `expected` bytes long, by finding its local file header (PK\3\4, then the name and extra
// field right before the data).
void checkStoredRecord(const MappedFile& file, const std::string& name, std::uint64_t dataOffset,
    std::uint64_t expected, const std::string& tensor)
{
    const auto* d = file.data();
    const ErrorContext where { file.path().string(), tensor, dataOffset };
    // Search backwards for a local header whose name and extra field end exactly at the data.
    for (std::uint64_t back = 30; back <= 30 + 0xFFFF + 0xFFFF && back <= dataOffset; ++back) {
        const std::uint64_t header = dataOffset - back;
        if (std::memcmp(d + header, "PK\x03\x04", 4) != 0)
            continue;
        const std::uint64_t nameLen = le16(d + header + 26);
        const std::uint64_t extraLen = le16(d + header + 28);
        if (30 + nameLen + extraLen != back)
            continue;
        const std::string stored(reinterpret_cast<const char*>(d + header + 30), nameLen);
        if (stored.size() < name.size() || stored.compare(stored.size() - name.size(), name.size(), name) != 0)
            continue;
        const auto method = le16(d + header + 8);
        if (method != 0)
            throw FormatError("the zip record " + name + " is compressed (method " + std::to_string(method)
                    + "); torch.save stores records uncompressed, so the file was repacked by another tool",
                where);
        if (dataOffset + expected > file.size())
            throw FormatError("the storage runs past the end of the file (truncated?)", where);
        const auto flags = le16(d + header + 6);
        if (flags & 0x08) {
            // Sizes follow the data in a descriptor (torch.save writes them so): it must sit
            // exactly where `expected` bytes of data end, and repeat that size.
            const std::uint64_t at = dataOffset + expected;
            const bool fits32 = at + 16 <= file.size() && std::memcmp(d + at, "PK\x07\x08", 4) == 0
                && le32(d + at + 8) == (expected & 0xFFFFFFFFu) && le32(d + at + 12) == (expected & 0xFFFFFFFFu);
            const bool fits64 = at + 24 <= file.size() && std::memcmp(d + at, "PK\x07\x08", 4) == 0
                && le64(d + at + 8) == expected && le64(d + at + 16) == expected;
            if (!fits32 && !fits64)
                throw FormatError("the zip record " + name + " does not hold the " + std::to_string(expected)
                        + " bytes the tensor's storage needs",
                    where);
            return;
        }
        const std::uint64_t size = le32(d + header + 22);
        if (size != 0xFFFFFFFFu && size != expected)
            throw FormatError("the zip record " + name + " holds " + std::to_string(size)
                    + " bytes but the tensor's storage needs " + std::to_string(expected),
                where);
        if (dataOffset + expected > file.size())
            throw FormatError("the storage runs past the end of the file (truncated?)", where);
        return;
    }
    throw FormatError("cannot find the zip header of record " + name, where);
}

struct StorageSpan
{
    std::uint64_t offset = 0; // absolute, in the mapping
    std::uint64_t bytes = 0;
};

DataFileContents finish(const std::shared_ptr<const MappedFile>& mapping, const PickleDocument& doc,
    const std::map<std::string, StorageSpan>& spans)
{
    const std::string file = mapping->path().string();
    auto scalar = [&](const PickleTensor& t) -> std::optional<double> {
        const auto& s = t.storage->storage;
        const auto it = spans.find(s.key);
        if (it == spans.end())
            return std::nullopt;
        const std::uint64_t at = it->second.offset + static_cast<std::uint64_t>(t.storageOffset) * dtypeSize(s.dtype);
        if (at + dtypeSize(s.dtype) > mapping->size())
            return std::nullopt;
        const auto* p = mapping->data() + at;
        if (s.dtype == DType::F32) {
            float v;
            std::memcpy(&v, p, 4);
            return v;
        }
        if (s.dtype == DType::F64) {
            double v;
            std::memcpy(&v, p, 8);
            return v;
        }
        if (s.dtype == DType::I64) {
            std::int64_t v;
            std::memcpy(&v, p, 8);
            return static_cast<double>(v);
        }
        return std::nullopt;
    };
    TorchStateDict state = interpretTorchObject(doc.root(), file, scalar);

    DataFileContents out;
    out.layout = state.layout;
    out.metadata = std::move(state.metadata);
    out.notes = std::move(state.notes);
    out.mapping = mapping;
    std::map<const PickleObject*, std::string> firstUser;
    for (const auto& entry : state.tensors) {
        const PickleTensor& t = entry.tensor->tensor;
        const PickleStorage& s = t.storage->storage;
        const auto span = spans.at(s.key);
        const std::size_t elem = dtypeSize(s.dtype);
        if (static_cast<std::uint64_t>(s.numel) * elem > span.bytes)
            throw FormatError("the storage holds " + std::to_string(span.bytes) + " bytes, fewer than its "
                    + std::to_string(s.numel) + " elements need",
                ErrorContext { file, entry.name, span.offset });
        TensorInfo info;
        info.name = entry.name;
        info.dtype = s.dtype;
        info.shape = t.shape;
        info.source = file;
        info.offset = span.offset + static_cast<std::uint64_t>(t.storageOffset) * elem;
        info.bytes = static_cast<std::uint64_t>(info.numel()) * elem;
        if (t.strides != contiguousStrides(t.shape) && info.numel() > 1)
            info.strides = t.strides;
        if (info.isContiguous() && info.offset + info.bytes > mapping->size())
            throw FormatError(
                "the tensor runs past the end of the file", ErrorContext { file, entry.name, info.offset });
        const auto [it, first] = firstUser.emplace(t.storage, entry.name);
        if (!first)
            info.aliasOf = it->second;
        out.tensors.push_back(std::move(info));
    }
    return out;
}

// Storage keys in the order the pickle references them.
std::vector<const PickleStorage*> storagesOf(const PickleDocument& doc, const PickleObject* root)
{
    std::vector<const PickleStorage*> out;
    std::vector<std::pair<const PickleObject*, int>> todo { { root, 0 } };
    std::map<const PickleObject*, bool> seen;
    while (!todo.empty()) {
        const auto [o, depth] = todo.back();
        todo.pop_back();
        if (!o || depth > 64 || !seen.emplace(o, true).second)
            continue;
        if (o->kind == PickleKind::Tensor && o->tensor.storage)
            out.push_back(&o->tensor.storage->storage);
        for (const auto* item : o->items)
            todo.push_back({ item, depth + 1 });
        for (const auto& [k, v] : o->entries)
            todo.push_back({ v, depth + 1 });
    }
    (void)doc;
    return out;
}

DataFileContents openZip(const std::shared_ptr<const MappedFile>& mapping)
{
    const std::string file = mapping->path().string();
    PickleDocument doc;
    std::map<std::string, StorageSpan> spans;
    try {
        caffe2::serialize::PyTorchStreamReader reader(std::make_shared<MappedReadAdapter>(mapping));
        if (!reader.hasRecord("data.pkl"))
            throw FormatError("the zip archive has no data.pkl record: it is not a torch.save checkpoint (a "
                              "TorchScript module or another zip file?)",
                ErrorContext { file, {}, {} });
        if (reader.hasRecord("byteorder")) {
            const auto [ptr, size] = reader.getRecord("byteorder");
            const std::string order(static_cast<const char*>(ptr.get()), size);
            if (order != "little")
                throw FormatError("the file was written on a '" + order
                        + "'-endian machine; only little-endian "
                          "files are supported",
                    ErrorContext { file, {}, {} });
        }
        const auto [pkl, pklSize] = reader.getRecord("data.pkl");
        unpickle(static_cast<const std::uint8_t*>(pkl.get()), pklSize, doc, file + " (data.pkl)");
        for (const PickleStorage* s : storagesOf(doc, doc.root())) {
            if (spans.count(s->key))
                continue;
            const std::string record = "data/" + s->key;
            if (!reader.hasRecord(record))
                throw FormatError(
                    "the storage record " + record + " is missing from the archive", ErrorContext { file, {}, {} });
            const std::uint64_t offset = reader.getRecordOffset(record);
            const std::uint64_t bytes = static_cast<std::uint64_t>(s->numel) * dtypeSize(s->dtype);
            checkStoredRecord(*mapping, record, offset, bytes, {});
            spans[s->key] = StorageSpan { offset, bytes };
        }
    } catch (const c10::Error& e) {
        throw FormatError("not a readable PyTorch zip archive: " + firstLine(e.what()), ErrorContext { file, {}, {} });
    }
    auto out = finish(mapping, doc, spans);
    out.format = "pytorch-zip";
    return out;
}

DataFileContents openLegacy(const std::shared_ptr<const MappedFile>& mapping)
{
    const std::string file = mapping->path().string();
    const auto* data = mapping->data();
    const std::uint64_t size = mapping->size();
    std::uint64_t pos = 0;
    auto next = [&](PickleDocument& doc, const char* what) {
        pos += unpickle(data + pos, size - pos, doc, file + " (" + what + ")").consumed;
        return doc.root();
    };
    PickleDocument magicDoc, protocolDoc, sysDoc, doc, keysDoc;
    const auto* magic = next(magicDoc, "magic number");
    if (magic->kind != PickleKind::Int || magic->text != "0x1950a86a20f9469cfc6c")
        throw FormatError("not a legacy PyTorch file: wrong magic number", ErrorContext { file, {}, 0 });
    const auto* protocol = next(protocolDoc, "protocol version");
    if (protocol->kind != PickleKind::Int || protocol->integer != 1001)
        throw FormatError("legacy PyTorch protocol " + describePickleObject(protocol) + " is not supported (1001 is)",
            ErrorContext { file, {}, {} });
    const auto* sys = next(sysDoc, "system info");
    const auto* little = sys->get("little_endian");
    if (little && little->kind == PickleKind::Bool && !little->boolean)
        throw FormatError("the file was written on a big-endian machine; only little-endian files are supported",
            ErrorContext { file, {}, {} });
    next(doc, "data");
    const auto* keys = next(keysDoc, "storage keys");
    if (keys->kind != PickleKind::List)
        throw FormatError("the storage key list is " + describePickleObject(keys), ErrorContext { file, {}, pos });

    // Storage dtypes by key, from the references in the data pickle.
    std::map<std::string, const PickleStorage*> byKey;
    for (const PickleStorage* s : storagesOf(doc, doc.root()))
        byKey.emplace(s->key, s);
    std::map<std::string, StorageSpan> spans;
    for (const auto* key : keys->items) {
        if (!key->isString())
            throw FormatError("a storage key is " + describePickleObject(key), ErrorContext { file, {}, pos });
        const auto it = byKey.find(key->text);
        if (it == byKey.end())
            throw FormatError("storage '" + key->text + "' is listed but no tensor uses it; cannot know its type",
                ErrorContext { file, {}, pos });
        if (size - pos < 8)
            throw FormatError(
                "the file ends before storage '" + key->text + "' (truncated?)", ErrorContext { file, {}, pos });
        std::int64_t count;
        std::memcpy(&count, data + pos, 8);
        const std::size_t elem = dtypeSize(it->second->dtype);
        if (count < 0 || static_cast<std::uint64_t>(count) > (size - pos - 8) / elem)
            throw FormatError("storage '" + key->text + "' claims " + std::to_string(count)
                    + " elements, more than the rest of the file holds (truncated?)",
                ErrorContext { file, {}, pos });
        spans[key->text] = StorageSpan { pos + 8, static_cast<std::uint64_t>(count) * elem };
        pos += 8 + static_cast<std::uint64_t>(count) * elem;
    }
    for (const auto& [key, s] : byKey) {
        if (!spans.count(key))
            throw FormatError(
                "storage '" + key + "' is used by a tensor but not stored in the file", ErrorContext { file, {}, {} });
    }
    auto out = finish(mapping, doc, spans);
    out.format = "pytorch-legacy";
    return out;
}

} // namespace

DataFileContents openTorchFile(const std::shared_ptr<const MappedFile>& mapping, DataFileKind kind)
{
    return kind == DataFileKind::TorchZip ? openZip(mapping) : openLegacy(mapping);
}

} // namespace qs
