// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/data_file.h"

#include "error.h"
#include "io/llama2c_checkpoint.h"
#include "io/safetensors_file.h"

#include <cstring>

namespace qs {

DataFileKind sniffDataFile(const std::uint8_t* data, std::uint64_t size)
{
    if (size >= 4 && std::memcmp(data, "PK\x03\x04", 4) == 0)
        return DataFileKind::TorchZip;
    // torch's legacy format starts with the pickled magic number: PROTO 2, LONG1 of 10 bytes.
    if (size >= 4 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5 && data[2] == 0x8a && data[3] == 0x0a)
        return DataFileKind::TorchLegacy;
    if (looksLikeLlama2c(data, size))
        return DataFileKind::Llama2c;
    // A bare pickle: PROTO 2-5 first and STOP last.
    if (size >= 4 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5 && data[size - 1] == '.')
        return DataFileKind::Pickle;
    // safetensors: an 8-byte little-endian length, then a JSON object.
    if (size >= 9) {
        std::uint64_t length = 0;
        for (int i = 0; i < 8; ++i)
            length |= std::uint64_t(data[i]) << (8 * i);
        if (length > 0 && length <= size - 8 && data[8] == '{')
            return DataFileKind::Safetensors;
    }
    return DataFileKind::Unknown;
}

DataFileContents openDataFile(const std::filesystem::path& file)
{
    auto mapping = MappedFile::open(file);
    const auto kind = sniffDataFile(mapping->data(), mapping->size());
    switch (kind) {
    case DataFileKind::TorchZip:
    case DataFileKind::TorchLegacy:
        return openTorchFile(mapping, kind);
    case DataFileKind::Pickle:
        return openNumpyPickle(mapping);
    case DataFileKind::Llama2c: {
        auto layout = parseLlama2c(mapping->data(), mapping->size(), file.string());
        DataFileContents out;
        out.format = "llama2c";
        out.layout = layout.config.version == 0 ? "legacy" : "version " + std::to_string(layout.config.version);
        out.mapping = std::move(mapping);
        out.tensors = std::move(layout.tensors);
        out.config = llama2cHfConfig(layout.config);
        out.notes = std::move(layout.notes);
        return out;
    }
    case DataFileKind::Safetensors:
    case DataFileKind::Unknown:
        break;
    }
    const std::string name = file.filename().string();
    if (kind == DataFileKind::Unknown && hasPlausibleLlama2cHeader(mapping->data(), mapping->size()))
        parseLlama2c(mapping->data(), mapping->size(), file.string()); // throws, saying what does not fit
    const bool safetensorsName = name.size() > 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0;
    if (kind == DataFileKind::Unknown && !safetensorsName)
        throw FormatError("not a checkpoint QuantScope can read: it is neither safetensors, a PyTorch file (zip or "
                          "legacy pickle), a pickle of numpy arrays nor a llama2.c checkpoint",
            ErrorContext { file.string(), {}, {} });
    // A .safetensors name with unknown content still goes to the safetensors parser, whose
    // errors say precisely what is wrong with the header.
    auto st = SafetensorsFile::open(file);
    DataFileContents out;
    out.format = "safetensors";
    out.mapping = st->mapping();
    out.tensors = st->tensors();
    out.metadata = st->header().metadata;
    return out;
}

} // namespace qs
