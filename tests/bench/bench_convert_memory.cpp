// SPDX-License-Identifier: GPL-3.0-or-later
// Peak memory of a whole conversion: writes a synthetic bf16 Llama-shaped checkpoint of the
// requested size (default 4 GB; real data, not sparse), converts it to NxD int8 in a child
// process and reports the child's peak RSS against the checkpoint size. The streaming
// pipeline maps, quantizes, writes and releases one tensor at a time, so the peak should track
// the largest tensor, not the model. Fails above --limit-mb (default 1024).
#include "io/checkpoint.h"
#include "io/safetensors_writer.h"
#include "jobs/conversion_job.h"
#include "jobs/progress.h"
#include "model/module_tree.h"

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

extern char** environ;

namespace fs = std::filesystem;
using namespace qs;

namespace {

long peakRssMb()
{
    rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024;
}

// Llama-shaped layers of width 4096 until the size is reached.
void writeCheckpoint(const fs::path& dir, std::uint64_t targetBytes)
{
    const std::int64_t hidden = 4096, inter = 11008;
    std::vector<TensorSpec> specs;
    std::uint64_t total = 0;
    for (int layer = 0; total < targetBytes; ++layer) {
        const std::string p = "model.layers." + std::to_string(layer) + ".";
        for (const auto& [name, shape] : std::vector<std::pair<std::string, std::vector<std::int64_t>>> {
                 { "self_attn.q_proj", { hidden, hidden } }, { "self_attn.o_proj", { hidden, hidden } },
                 { "mlp.gate_proj", { inter, hidden } }, { "mlp.down_proj", { hidden, inter } } }) {
            specs.push_back({ p + name + ".weight", DType::BF16, shape });
            total += specs.back().bytes();
            if (total >= targetBytes)
                break;
        }
    }
    fs::create_directories(dir);
    SafetensorsWriter writer(dir / "model.safetensors", specs);
    std::vector<std::uint16_t> chunk(1 << 20);
    for (std::size_t i = 0; i < chunk.size(); ++i) // bf16 values spread over a few binades
        chunk[i] = static_cast<std::uint16_t>(0x3C00 + (i * 2654435761u >> 20) % 0x0600) | ((i & 1) << 15);
    for (const auto& spec : specs) {
        std::uint64_t left = spec.bytes();
        while (left > 0) {
            const std::uint64_t n = std::min<std::uint64_t>(left, chunk.size() * 2);
            writer.write(spec.name, chunk.data(), n);
            left -= n;
        }
    }
    writer.finish();
    std::ofstream(dir / "config.json") << R"({"model_type": "llama"})";
}

int convertChild(const fs::path& input, const fs::path& output)
{
    const Checkpoint c = Checkpoint::open(input);
    ConversionOptions options;
    options.destination = output;
    options.overwrite = true;
    NullProgress progress;
    const auto report = convertCheckpoint(c, ModuleTree::build(c.tensors(), c.modelType()), options, progress);
    std::printf("%ld %d\n", peakRssMb(), report.quantizedCount);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc == 4 && !std::strcmp(argv[1], "--child"))
        return convertChild(argv[2], argv[3]);
    std::uint64_t sizeMb = 4096;
    long limitMb = 1024;
    fs::path dir = fs::temp_directory_path() / ("quantscope-bench-memory-" + std::to_string(::getpid()));
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--size-mb"))
            sizeMb = std::stoull(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--limit-mb"))
            limitMb = std::stol(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
    }
    fs::remove_all(dir);
    writeCheckpoint(dir / "in", sizeMb << 20);
    const std::string in = (dir / "in").string(), out = (dir / "out").string();
    char* args[] = { argv[0], const_cast<char*>("--child"), const_cast<char*>(in.c_str()),
        const_cast<char*>(out.c_str()), nullptr };
    int pipeFds[2];
    if (pipe(pipeFds) != 0)
        return 2;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, args, environ) != 0)
        return 2;
    close(pipeFds[1]);
    char buffer[128] = {};
    const ssize_t got = read(pipeFds[0], buffer, sizeof buffer - 1);
    int status = 0;
    waitpid(pid, &status, 0);
    long peak = -1;
    int quantized = 0;
    if (got <= 0 || std::sscanf(buffer, "%ld %d", &peak, &quantized) != 2 || !WIFEXITED(status)
        || WEXITSTATUS(status)) {
        std::printf("FAIL: the conversion child did not finish\n");
        return 1;
    }
    const double inputMb = static_cast<double>(fs::file_size(dir / "in" / "model.safetensors")) / (1 << 20);
    fs::remove_all(dir);
    std::printf("converted %.0f MB of bf16 (%d Linear weights) to NxD int8\n", inputMb, quantized);
    std::printf("peak RSS of the conversion: %ld MB (%.2fx the checkpoint size; limit %ld MB)\n", peak,
        static_cast<double>(peak) / inputMb, limitMb);
    return peak <= limitMb ? 0 : 1;
}
