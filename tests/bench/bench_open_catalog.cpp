// SPDX-License-Identifier: GPL-3.0-or-later
// Opening a 7B-shaped sharded safetensors checkpoint (Llama-2-7B: 291 BF16 tensors, 13.5 GB
// in 2 shards of at most 10 GB). The shards are sparse files with real headers, so the bench
// needs no disk space. Measures Checkpoint::open + the module tree (what the GUI shows) against
// a plain read() of the same headers in the same process, prints both and the ratio, and fails
// when listing the catalog takes 300 ms or more.
#include "io/checkpoint.h"
#include "io/safetensors_format.h"
#include "model/module_tree.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace qs;

namespace {

std::vector<TensorSpec> llama7bTensors(int layers)
{
    const std::int64_t hidden = 4096, inter = 11008, vocab = 32000;
    std::vector<TensorSpec> out { { "model.embed_tokens.weight", DType::BF16, { vocab, hidden } } };
    for (int l = 0; l < layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        for (const char* n : { "q_proj", "k_proj", "v_proj", "o_proj" })
            out.push_back({ p + "self_attn." + n + ".weight", DType::BF16, { hidden, hidden } });
        out.push_back({ p + "mlp.gate_proj.weight", DType::BF16, { inter, hidden } });
        out.push_back({ p + "mlp.up_proj.weight", DType::BF16, { inter, hidden } });
        out.push_back({ p + "mlp.down_proj.weight", DType::BF16, { hidden, inter } });
        out.push_back({ p + "input_layernorm.weight", DType::BF16, { hidden } });
        out.push_back({ p + "post_attention_layernorm.weight", DType::BF16, { hidden } });
    }
    out.push_back({ "model.norm.weight", DType::BF16, { hidden } });
    out.push_back({ "lm_head.weight", DType::BF16, { vocab, hidden } });
    return out;
}

// Writes shard headers and extends each shard to its full size without writing data.
std::vector<fs::path> writeSparseCheckpoint(const fs::path& dir, int layers, std::uint64_t maxShard)
{
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::vector<std::vector<TensorSpec>> shards(1);
    std::uint64_t inShard = 0, total = 0;
    for (auto& t : llama7bTensors(layers)) {
        if (inShard > 0 && inShard + t.bytes() > maxShard) {
            shards.emplace_back();
            inShard = 0;
        }
        inShard += t.bytes();
        total += t.bytes();
        shards.back().push_back(std::move(t));
    }
    std::vector<fs::path> files;
    std::string weightMap;
    char name[64];
    for (std::size_t i = 0; i < shards.size(); ++i) {
        std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
        const fs::path file = dir / name;
        const std::string header = serializeSafetensorsHeader(shards[i], { { "format", "pt" } });
        std::uint64_t data = 0;
        for (const auto& t : shards[i]) {
            data += t.bytes();
            weightMap += std::string(weightMap.empty() ? "" : ",") + "\"" + t.name + "\":\"" + name + "\"";
        }
        std::ofstream(file, std::ios::binary).write(header.data(), static_cast<std::streamsize>(header.size()));
        fs::resize_file(file, header.size() + data);
        files.push_back(file);
    }
    std::ofstream(dir / "model.safetensors.index.json")
        << "{\"metadata\":{\"total_size\":" << total << "},\"weight_map\":{" << weightMap << "}}";
    std::ofstream(dir / "config.json") << R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"]})";
    return files;
}

double medianMs(const std::function<void()>& f, int repeat)
{
    std::vector<double> ms;
    for (int i = 0; i < repeat; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
    int layers = 32, repeat = 15;
    fs::path dir = fs::temp_directory_path() / ("quantscope-bench-open-" + std::to_string(::getpid()));
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--layers"))
            layers = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--repeat"))
            repeat = std::max(1, std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
    }
    const auto files = writeSparseCheckpoint(dir, layers, 10'000'000'000ULL);

    std::size_t sink = 0;
    const double baseline = medianMs(
        [&] {
            for (const auto& f : files) {
                const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
                std::uint64_t length = 0;
                if (fd < 0 || ::read(fd, &length, 8) != 8)
                    std::abort();
                std::string header(length, '\0');
                if (::read(fd, header.data(), length) != static_cast<ssize_t>(length))
                    std::abort();
                sink += header.size();
                ::close(fd);
            }
        },
        repeat);
    std::size_t tensors = 0, linears = 0;
    std::uint64_t bytes = 0;
    const double open = medianMs(
        [&] {
            const Checkpoint c = Checkpoint::open(dir);
            const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
            tensors = c.tensors().size();
            bytes = c.totalBytes();
            linears = tree.quantizable().size();
        },
        repeat);
    fs::remove_all(dir);

    std::printf("7B-shaped checkpoint: %zu tensors, %.1f GB in %zu sparse shards, %zu Linear modules\n", tensors,
        static_cast<double>(bytes) / 1e9, files.size(), linears);
    std::printf("plain read() of the headers:        %8.2f ms (baseline, %zu bytes)\n", baseline, sink / repeat);
    std::printf(
        "Checkpoint::open + module tree:     %8.2f ms (%.1fx the baseline)\n", open, open / std::max(baseline, 1e-3));
    if (open >= 300.0) {
        std::printf("FAIL: listing the catalog took %.0f ms; the budget is 300 ms\n", open);
        return 1;
    }
    return 0;
}
