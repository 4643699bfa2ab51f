// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qs {

// One tensor of a safetensors header; offsets are relative to the start of the data section.
struct SafetensorsEntry
{
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

// A parsed and validated safetensors header.
struct SafetensorsHeader
{
    std::uint64_t headerLength = 0; // the JSON part, after the 8-byte length prefix
    std::vector<SafetensorsEntry> tensors; // in data order (ascending offsets)
    std::map<std::string, std::string> metadata; // "__metadata__"

    std::uint64_t dataStart() const { return 8 + headerLength; }
};

// The safetensors reference implementation refuses headers above 100 MB; so do we.
constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

// Parses and validates a safetensors file held in `bytes` (the whole file, typically mapped).
// Checks the length prefix, the JSON, every entry (dtype, shape, offsets), that dtype x shape
// matches the byte span, that names are unique, and that the data section is covered exactly:
// contiguous, non-overlapping and ending at the end of the file. Throws FormatError naming
// `fileName`, the tensor and the problem.
SafetensorsHeader parseSafetensorsHeader(const std::uint8_t* bytes, std::uint64_t size, const std::string& fileName);

// What a writer needs to know about one tensor before any data is written.
struct TensorSpec
{
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;

    std::uint64_t bytes() const;
};

// The 8-byte little-endian length followed by the JSON header, padded with spaces to a
// multiple of 8 bytes so that the data section is aligned. Tensors are laid out in the order
// given. Throws UsageError on duplicate names.
std::string serializeSafetensorsHeader(
    const std::vector<TensorSpec>& tensors, const std::map<std::string, std::string>& metadata);

} // namespace qs
