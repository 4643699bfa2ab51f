#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "io/checkpoint.h"
#include "model/natural_order.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

std::vector<const TensorInfo*> sortedTensors(const Checkpoint& c)
{
    std::vector<const TensorInfo*> out;
    for (const auto& t : c.tensors())
        out.push_back(&t);
    std::sort(
        out.begin(), out.end(), [](const TensorInfo* a, const TensorInfo* b) { return naturalLess(a->name, b->name); });
    return out;
}

nlohmann::ordered_json inspectJson(const Checkpoint& c)
{
    nlohmann::ordered_json j;
    j["format"] = c.format();
    j["path"] = c.path().string();
    j["files"] = nlohmann::ordered_json::array();
    for (const auto& f : c.dataFiles())
        j["files"].push_back(f.string());
    j["model_type"] = c.modelType();
    j["parameter_count"] = c.parameterCount();
    j["total_bytes"] = c.totalBytes();
    j["metadata"] = c.metadata();
    auto& tensors = j["tensors"];
    tensors = nlohmann::ordered_json::array();
    for (const TensorInfo* t : sortedTensors(c)) {
        tensors.push_back({ { "name", t->name }, { "dtype", std::string(dtypeName(t->dtype)) }, { "shape", t->shape },
            { "bytes", t->bytes } });
    }
    return j;
}

void printText(const Checkpoint& c)
{
    std::printf("%s\n", c.path().string().c_str());
    std::printf("format:     %s (%zu file%s)\n", c.format().c_str(), c.dataFiles().size(),
        c.dataFiles().size() == 1 ? "" : "s");
    if (!c.modelType().empty())
        std::printf("model_type: %s\n", c.modelType().c_str());
    std::printf("tensors:    %zu\nparameters: %lld\nbytes:      %llu\n\n", c.tensors().size(),
        static_cast<long long>(c.parameterCount()), static_cast<unsigned long long>(c.totalBytes()));
    const auto tensors = sortedTensors(c);
    std::size_t width = 4;
    for (const TensorInfo* t : tensors)
        width = std::max(width, t->name.size());
    std::printf("%-*s  %-7s  %s\n", static_cast<int>(width), "NAME", "DTYPE", "SHAPE");
    for (const TensorInfo* t : tensors) {
        std::printf("%-*s  %-7s  %s\n", static_cast<int>(width), t->name.c_str(),
            std::string(dtypeName(t->dtype)).c_str(), formatShape(t->shape).c_str());
    }
}

} // namespace

int runInspect(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json" };
    const Arguments args = parseArguments("inspect", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'inspect' needs exactly one checkpoint path: quantscope-cli inspect PATH [--json]");
    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    if (args.has("--json"))
        std::cout << inspectJson(checkpoint).dump(2) << "\n";
    else
        printText(checkpoint);
    return 0;
}

} // namespace qs::cli
