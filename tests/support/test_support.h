// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dtype.h"
#include "io/safetensors_format.h"
#include "io/tensor_info.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace qs::test {

// A tensor for test files: its spec and raw little-endian bytes.
struct RawTensor
{
    TensorSpec spec;
    std::vector<std::uint8_t> bytes;
};

// Float values as F32 bytes, and as BF16 bytes (round to nearest even, like torch).
RawTensor f32Tensor(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& values);
RawTensor bf16Tensor(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& values);
std::uint16_t floatToBf16(float value);

// Writes a safetensors file with QuantScope's writer.
void writeSafetensors(const std::filesystem::path& file, const std::vector<RawTensor>& tensors);

// A file made of an 8-byte length, `header` verbatim, and `data`: for malformed-input tests.
std::string rawSafetensors(const std::string& header, const std::string& data);
std::string rawSafetensors(std::uint64_t declaredLength, const std::string& rest);

std::string readFile(const std::filesystem::path& file);
void writeFile(const std::filesystem::path& file, const std::string& bytes);

// Every file below `dir` with its content: compare trees before and after an operation.
std::vector<std::pair<std::string, std::string>> snapshotTree(const std::filesystem::path& dir);

// Deterministic pseudo-random floats (normal, std 1).
std::vector<float> randomNormal(std::size_t n, std::uint64_t seed);

// Names of the tensors of a Llama-shaped model with `layers` decoder layers.
std::vector<std::string> llamaTensorNames(int layers);
// Its catalog (no file): BF16, norms [width], every other weight [width, width].
std::vector<TensorInfo> llamaTensorInfos(int layers, std::int64_t width);

} // namespace qs::test
