// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/safetensors_format.h"

#include "error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>

namespace qs {
namespace {

// A shape for an error message, without recursing into hostile nesting (nlohmann's dump()
// recurses once per level, so a deeply nested array would overflow the stack).
std::string describeShape(const nlohmann::json& shape)
{
    if (!shape.is_array())
        return "(not an array)";
    std::string out = "[";
    std::size_t shown = 0;
    for (const auto& d : shape) {
        if (shown == 8) {
            out += ", …";
            break;
        }
        out += shown++ ? ", " : "";
        out += d.is_number() ? d.dump() : d.is_array() ? "[…]" : d.is_string() ? "\"…\"" : d.type_name();
    }
    return out + "]";
}

using nlohmann::json;

class HeaderParser
{
public:
    HeaderParser(const std::string& fileName)
        : m_file(fileName)
    { }

    [[noreturn]] void fail(const std::string& reason, const std::string& tensor = {},
        std::optional<std::uint64_t> offset = std::nullopt) const
    {
        throw FormatError(reason, ErrorContext { m_file, tensor, offset });
    }

    SafetensorsHeader parse(const std::uint8_t* bytes, std::uint64_t size)
    {
        if (size < 8)
            fail("file is too small to be safetensors (" + std::to_string(size)
                + " bytes; the 8-byte header length is missing)");

        SafetensorsHeader header;
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i)
            n = (n << 8) | bytes[i];
        header.headerLength = n;
        if (n > kMaxSafetensorsHeader)
            fail("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxSafetensorsHeader)
                    + " bytes",
                {}, 0);
        if (n > size - 8)
            fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size)
                    + " bytes)",
                {}, 0);
        if (n < 2)
            fail("header of " + std::to_string(n) + " bytes is too short to hold a JSON object", {}, 8);

        const char* text = reinterpret_cast<const char*>(bytes + 8);
        json root = parseJson(text, n);
        if (!root.is_object())
            fail("header is not a JSON object", {}, 8);

        for (auto it = root.begin(); it != root.end(); ++it) {
            if (it.key() == "__metadata__")
                readMetadata(it.value(), header);
            else
                header.tensors.push_back(readEntry(it.key(), it.value()));
        }
        checkLayout(header, size);
        return header;
    }

private:
    json parseJson(const char* text, std::uint64_t length)
    {
        // nlohmann silently keeps the last of duplicate keys; the callback sees every key.
        std::set<std::string> names;
        std::string duplicate;
        auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
            if (event == json::parse_event_t::key && depth == 1 && duplicate.empty()) {
                const auto& key = parsed.get_ref<const std::string&>();
                if (!names.insert(key).second)
                    duplicate = key;
            }
            return true;
        };
        json root;
        try {
            root = json::parse(text, text + length, callback);
        } catch (const json::exception& e) {
            fail(std::string("header is not valid JSON: ") + e.what(), {}, 8);
        }
        if (!duplicate.empty())
            fail("the header names this tensor more than once", duplicate);
        return root;
    }

    void readMetadata(const json& value, SafetensorsHeader& header)
    {
        if (!value.is_object())
            fail("__metadata__ must be an object mapping strings to strings");
        for (auto it = value.begin(); it != value.end(); ++it) {
            if (!it.value().is_string())
                fail("__metadata__ value of '" + it.key() + "' is not a string");
            header.metadata[it.key()] = it.value().get<std::string>();
        }
    }

    static bool readUnsigned(const json& v, std::uint64_t& out)
    {
        if (v.is_number_unsigned()) {
            out = v.get<std::uint64_t>();
            return true;
        }
        if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
            out = static_cast<std::uint64_t>(v.get<std::int64_t>());
            return true;
        }
        return false;
    }

    SafetensorsEntry readEntry(const std::string& name, const json& value)
    {
        if (!value.is_object())
            fail("header entry is not an object with dtype, shape and data_offsets", name);
        SafetensorsEntry entry;
        entry.name = name;

        const auto dtype = value.find("dtype");
        if (dtype == value.end() || !dtype->is_string())
            fail("missing or non-string 'dtype'", name);
        const auto parsed = dtypeFromName(dtype->get<std::string>());
        if (!parsed)
            fail("unknown dtype '" + dtype->get<std::string>() + "'", name);
        entry.dtype = *parsed;

        const auto shape = value.find("shape");
        if (shape == value.end() || !shape->is_array())
            fail("missing or non-array 'shape'", name);
        std::uint64_t numel = 1;
        for (const auto& d : *shape) {
            std::uint64_t dim = 0;
            if (!readUnsigned(d, dim) || dim > static_cast<std::uint64_t>(INT64_MAX))
                fail("shape must be an array of non-negative integers, got " + describeShape(*shape), name);
            entry.shape.push_back(static_cast<std::int64_t>(dim));
            if (__builtin_mul_overflow(numel, dim, &numel))
                fail("shape " + describeShape(*shape) + " has more elements than can be addressed", name);
        }

        const auto offsets = value.find("data_offsets");
        if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2
            || !readUnsigned((*offsets)[0], entry.begin) || !readUnsigned((*offsets)[1], entry.end))
            fail("'data_offsets' must be [begin, end] with non-negative integers", name);
        if (entry.begin > entry.end)
            fail("data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end)
                    + "] end before they begin",
                name);

        std::uint64_t expected = 0;
        if (__builtin_mul_overflow(numel, static_cast<std::uint64_t>(dtypeSize(entry.dtype)), &expected))
            fail("shape " + describeShape(*shape) + " is too large", name);
        if (expected != entry.end - entry.begin)
            fail("shape " + describeShape(*shape) + " of dtype " + std::string(dtypeName(entry.dtype)) + " needs "
                    + std::to_string(expected) + " bytes, but data_offsets span "
                    + std::to_string(entry.end - entry.begin) + " bytes",
                name);
        return entry;
    }

    void checkLayout(SafetensorsHeader& header, std::uint64_t fileSize)
    {
        auto& t = header.tensors;
        std::stable_sort(t.begin(), t.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
            return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
        });
        const std::uint64_t dataSize = fileSize - header.dataStart();
        std::uint64_t expectedBegin = 0;
        const SafetensorsEntry* previous = nullptr;
        for (const auto& e : t) {
            const auto absolute = header.dataStart() + e.begin;
            if (e.begin < expectedBegin)
                fail("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] overlap tensor '"
                        + previous->name + "', which ends at " + std::to_string(expectedBegin),
                    e.name, absolute);
            if (e.begin > expectedBegin)
                fail("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] leave a gap of "
                        + std::to_string(e.begin - expectedBegin) + " bytes "
                        + (previous ? "after tensor '" + previous->name + "'" : "at the start of the data section"),
                    e.name, absolute);
            if (e.end > dataSize)
                fail("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end)
                        + "] run past the end of the file (the data section has " + std::to_string(dataSize)
                        + " bytes)",
                    e.name, absolute);
            expectedBegin = e.end;
            previous = &e;
        }
        if (expectedBegin != dataSize)
            fail("the tensors cover " + std::to_string(expectedBegin) + " bytes of data, but the file has "
                    + std::to_string(dataSize) + " bytes after the header (trailing or truncated data)",
                {}, header.dataStart() + expectedBegin);
    }

    std::string m_file;
};

} // namespace

SafetensorsHeader parseSafetensorsHeader(const std::uint8_t* bytes, std::uint64_t size, const std::string& fileName)
{
    return HeaderParser(fileName).parse(bytes, size);
}

std::uint64_t TensorSpec::bytes() const
{
    std::uint64_t n = dtypeSize(dtype);
    for (auto d : shape)
        n *= static_cast<std::uint64_t>(d);
    return n;
}

std::string serializeSafetensorsHeader(
    const std::vector<TensorSpec>& tensors, const std::map<std::string, std::string>& metadata)
{
    nlohmann::ordered_json root = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        auto& meta = root["__metadata__"];
        for (const auto& [key, value] : metadata)
            meta[key] = value;
    }
    std::uint64_t offset = 0;
    for (const auto& t : tensors) {
        if (t.name == "__metadata__" || root.contains(t.name))
            throw UsageError("cannot write two tensors with the same name", ErrorContext { {}, t.name, {} });
        const auto size = t.bytes();
        root[t.name] = { { "dtype", std::string(dtypeName(t.dtype)) }, { "shape", t.shape },
            { "data_offsets", { offset, offset + size } } };
        offset += size;
    }
    std::string json = root.dump();
    json.append((8 - json.size() % 8) % 8, ' ');

    std::string out(8, '\0');
    std::uint64_t n = json.size();
    for (int i = 0; i < 8; ++i)
        out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out + json;
}

} // namespace qs
