// SPDX-License-Identifier: GPL-3.0-or-later
#include "test_support.h"

#include "io/safetensors_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace qs::test {

std::uint16_t floatToBf16(float value)
{
    std::uint32_t bits = 0;
    std::memcpy(&bits, &value, 4);
    if (std::isnan(value))
        return 0x7fc0;
    const std::uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
    return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

RawTensor f32Tensor(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& values)
{
    RawTensor t { { name, DType::F32, std::move(shape) }, {} };
    t.bytes.resize(values.size() * 4);
    std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
    return t;
}

RawTensor bf16Tensor(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& values)
{
    RawTensor t { { name, DType::BF16, std::move(shape) }, {} };
    t.bytes.resize(values.size() * 2);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const std::uint16_t b = floatToBf16(values[i]);
        std::memcpy(t.bytes.data() + 2 * i, &b, 2);
    }
    return t;
}

void writeSafetensors(const std::filesystem::path& file, const std::vector<RawTensor>& tensors)
{
    std::vector<TensorSpec> specs;
    for (const auto& t : tensors)
        specs.push_back(t.spec);
    SafetensorsWriter writer(file, specs);
    for (const auto& t : tensors)
        writer.write(t.spec.name, t.bytes.data(), t.bytes.size());
    writer.finish();
}

std::string rawSafetensors(std::uint64_t declaredLength, const std::string& rest)
{
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<char>((declaredLength >> (8 * i)) & 0xff);
    return out + rest;
}

std::string rawSafetensors(const std::string& header, const std::string& data)
{
    return rawSafetensors(header.size(), header + data);
}

std::string readFile(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void writeFile(const std::filesystem::path& file, const std::string& bytes)
{
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::pair<std::string, std::string>> snapshotTree(const std::filesystem::path& dir)
{
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (e.is_regular_file())
            out.emplace_back(std::filesystem::relative(e.path(), dir).string(), readFile(e.path()));
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<float> randomNormal(std::size_t n, std::uint64_t seed)
{
    std::vector<float> v(n);
    std::uint64_t s = seed;
    auto next = [&s] {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
    };
    for (auto& x : v)
        x = static_cast<float>(std::sqrt(-2.0 * std::log(1.0 - next())) * std::cos(6.283185307179586 * next()));
    return v;
}

std::vector<std::string> llamaTensorNames(int layers)
{
    std::vector<std::string> names = { "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight" };
    for (int l = 0; l < layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        for (const char* m : { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj" })
            names.push_back(p + m + ".weight");
        names.push_back(p + "input_layernorm.weight");
        names.push_back(p + "post_attention_layernorm.weight");
    }
    return names;
}

std::vector<TensorInfo> llamaTensorInfos(int layers, std::int64_t width)
{
    std::vector<TensorInfo> out;
    for (const auto& name : llamaTensorNames(layers)) {
        TensorInfo t;
        t.name = name;
        t.dtype = DType::BF16;
        t.shape = name.find("norm") != std::string::npos ? std::vector<std::int64_t> { width }
                                                         : std::vector<std::int64_t> { width, width };
        t.bytes = static_cast<std::uint64_t>(t.numel()) * 2;
        out.push_back(std::move(t));
    }
    return out;
}

} // namespace qs::test
