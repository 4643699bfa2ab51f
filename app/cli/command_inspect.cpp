// SPDX-License-Identifier: GPL-3.0-or-later
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "io/checkpoint.h"
#include "io/checkpoint_summary.h"
#include "model/module_tree.h"
#include "model/natural_order.h"
#include "stats/tensor_analysis.h"

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

std::string humanBytes(std::uint64_t bytes)
{
    const char* units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

// What a tensor is in a quantized checkpoint: "quantized", "scale of <weight>", or empty.
std::string quantizationRole(const Checkpoint& c, const std::string& name)
{
    const auto& q = c.quantization();
    if (q.recipes.count(name))
        return "quantized";
    const auto it = q.companions.find(name);
    return it == q.companions.end() ? std::string() : "belongs to " + it->second;
}

nlohmann::ordered_json inspectJson(const Checkpoint& c)
{
    const CheckpointSummary s = summarizeCheckpoint(c);
    nlohmann::ordered_json j;
    j["format"] = c.format();
    j["layout"] = c.layout();
    j["path"] = c.path().string();
    j["files"] = nlohmann::ordered_json::array();
    for (const auto& f : c.dataFiles())
        j["files"].push_back(f.string());
    j["shards"] = s.files.size();
    j["bytes_on_disk"] = s.bytesOnDisk;
    j["model_type"] = c.modelType();
    j["architecture"] = s.architecture;
    j["parameter_count"] = c.parameterCount();
    j["total_bytes"] = c.totalBytes();
    j["dtype_mix"] = nlohmann::ordered_json::array();
    for (const auto& d : s.dtypes)
        j["dtype_mix"].push_back({ { "dtype", std::string(dtypeName(d.dtype)) }, { "tensors", d.tensors },
            { "parameters", d.parameters }, { "bytes", d.bytes } });
    j["tied"] = nlohmann::ordered_json::array();
    for (const auto& [tensor, target] : s.tiedTensors)
        j["tied"].push_back({ { "tensor", tensor }, { "shares_storage_with", target } });
    const auto& q = c.quantization();
    if (q.isQuantized())
        j["quantization"] = { { "kind", q.kind }, { "summary", q.summary }, { "quantized_weights", q.recipes.size() },
            { "details", q.details } };
    else
        j["quantization"] = nullptr;
    j["tokenizer"]
        = c.tokenizerFile().empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(c.tokenizerFile().string());
    j["notes"] = c.notes();
    j["metadata"] = c.metadata();
    j["config"] = c.config();
    auto& tensors = j["tensors"];
    tensors = nlohmann::ordered_json::array();
    for (const TensorInfo* t : sortedTensors(c)) {
        nlohmann::ordered_json e { { "name", t->name }, { "dtype", std::string(dtypeName(t->dtype)) },
            { "shape", t->shape }, { "bytes", t->bytes } };
        if (!t->isContiguous())
            e["strides"] = t->strides;
        if (!t->aliasOf.empty())
            e["alias_of"] = t->aliasOf;
        const std::string role = quantizationRole(c, t->name);
        if (!role.empty())
            e["quantization"] = role;
        tensors.push_back(std::move(e));
    }
    return j;
}

void printText(const Checkpoint& c)
{
    const CheckpointSummary s = summarizeCheckpoint(c);
    std::printf("%s\n", c.path().string().c_str());
    std::printf("format:      %s%s, %zu file%s, %s on disk\n", s.format.c_str(),
        s.layout.empty() ? "" : (" (" + s.layout + ")").c_str(), s.files.size(), s.files.size() == 1 ? "" : "s",
        humanBytes(s.bytesOnDisk).c_str());
    if (!s.modelType.empty() || !s.architecture.empty())
        std::printf(
            "model:       %s%s%s\n", s.modelType.c_str(), s.architecture.empty() ? "" : " · ", s.architecture.c_str());
    std::printf("parameters:  %lld in %zu tensors, %s (%s)\n", static_cast<long long>(s.parameters), s.tensorCount,
        humanBytes(s.tensorBytes).c_str(), s.dtypeMix().c_str());
    for (const auto& [tensor, target] : s.tiedTensors)
        std::printf("tied:        %s shares storage with %s\n", tensor.c_str(), target.c_str());
    if (!s.quantization.empty())
        std::printf("quantized:   %s\n", s.quantization.c_str());
    if (!s.tokenizer.empty())
        std::printf("tokenizer:   %s\n", s.tokenizer.c_str());
    for (const auto& n : s.notes)
        std::printf("note:        %s\n", n.c_str());
    for (const auto& [key, value] : c.metadata()) {
        const std::string shown = value.size() > 100 ? value.substr(0, 100) + "…" : value;
        std::printf("metadata:    %s = %s\n", key.c_str(), shown.c_str());
    }
    std::printf("\n");
    const auto tensors = sortedTensors(c);
    std::size_t width = 4;
    for (const TensorInfo* t : tensors)
        width = std::max(width, t->name.size());
    std::printf("%-*s  %-7s  %-14s  %s\n", static_cast<int>(width), "NAME", "DTYPE", "SHAPE", "NOTE");
    for (const TensorInfo* t : tensors) {
        std::string note = quantizationRole(c, t->name);
        if (!t->aliasOf.empty())
            note = "tied to " + t->aliasOf;
        else if (!t->isContiguous())
            note = "strided view " + formatShape(t->strides);
        std::printf("%-*s  %-7s  %-14s  %s\n", static_cast<int>(width), t->name.c_str(),
            std::string(dtypeName(t->dtype)).c_str(), formatShape(t->shape).c_str(), note.c_str());
    }
}

// One tensor's values (dequantized when the checkpoint stores it quantized), and what int8
// per-channel would do to it: the CLI twin of the GUI's details panel.
int inspectTensor(const Checkpoint& c, const std::string& name, bool json)
{
    const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
    const TensorAnalysis a = analyzeTensor(c, tree, name);
    const auto& t = a.info;
    if (json) {
        nlohmann::ordered_json j { { "name", t.name }, { "dtype", std::string(dtypeName(t.dtype)) },
            { "shape", t.shape }, { "stored_quantization", a.storedQuantization },
            { "values",
                { { "count", a.summary.count }, { "min", a.summary.min }, { "max", a.summary.max },
                    { "mean", a.summary.mean }, { "std", a.summary.std } } } };
        if (!a.storedScheme.empty())
            j["stored_scheme"] = { { "scheme", a.storedScheme }, { "basis", a.storedSchemeBasis } };
        if (!a.storedCodes.empty())
            j["stored_codes"] = { { "tensor", a.storedCodes }, { "sqnr_db", a.storedError.sqnrDb },
                { "max_abs_error", a.storedError.maxAbsError }, { "cosine", a.storedError.cosine } };
        if (a.quantized)
            j["int8_per_channel"]
                = { { "sqnr_db", a.error.sqnrDb }, { "mse", a.error.mse }, { "max_abs_error", a.error.maxAbsError },
                      { "cosine", a.error.cosine }, { "scale_min", a.scaleMin }, { "scale_max", a.scaleMax } };
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf("%s  %s %s\n", t.name.c_str(), std::string(dtypeName(t.dtype)).c_str(), formatShape(t.shape).c_str());
    if (!a.storedQuantization.empty())
        std::printf("stored quantized (%s); values below are dequantized\n", a.storedQuantization.c_str());
    if (!a.storedCodes.empty())
        std::printf("stored codes %s, against this float weight: SQNR %.2f dB, max |error| %.3g\n",
            a.storedCodes.c_str(), a.storedError.sqnrDb, a.storedError.maxAbsError);
    if (!a.storedScheme.empty())
        std::printf("quantizer: %s (%s)\n", a.storedScheme.c_str(), a.storedSchemeBasis.c_str());
    std::printf("values:  %lld elements, min %.6g, max %.6g, mean %.6g, std %.6g, excess kurtosis %.3g\n",
        static_cast<long long>(a.summary.count), a.summary.min, a.summary.max, a.summary.mean, a.summary.std,
        a.summary.kurtosis);
    if (a.quantized)
        std::printf("int8 per-channel: SQNR %.2f dB, MSE %.3g, max |error| %.3g, scales %.3g … %.3g\n", a.error.sqnrDb,
            a.error.mse, a.error.maxAbsError, a.scaleMin, a.scaleMax);
    return 0;
}

std::string inspectUsage()
{
    return "quantscope-cli inspect PATH [--tensor NAME] [--json]\n"
           "  Summarise a checkpoint and list its tensors. PATH: a .safetensors file, a PyTorch\n"
           "  .pt/.bin/.pth (zip or legacy; state dicts, nanoGPT ckpt.pt, qmodel_for_aiu.pt), the\n"
           "  nanoGPT fork's save_weights.py .pkl, a llama2.c .bin, an index (model.safetensors.index.json, pytorch_model.bin.index.json)\n"
           "  or a model folder. Already-quantized checkpoints show their scheme.\n"
           "  --json  print {\"format\", \"layout\", \"path\", \"files\", \"shards\", \"bytes_on_disk\",\n"
           "          \"model_type\", \"parameter_count\", \"total_bytes\", \"dtype_mix\", \"tied\",\n"
           "          \"quantization\", \"tokenizer\", \"notes\", \"metadata\", \"config\",\n"
           "          \"tensors\": [{\"name\", \"dtype\", \"shape\", \"bytes\", ...}]}\n"
           "  --tensor NAME  statistics of one tensor (dequantized when stored quantized) and what\n"
           "          int8 per-channel would do to it; with --json: {\"name\", \"dtype\", \"shape\",\n"
           "          \"stored_quantization\", \"values\": {...}, \"int8_per_channel\": {...}}, and for\n"
           "          the nanoGPT fork's codes \"stored_scheme\": {\"scheme\", \"basis\"} and, for a float\n"
           "          weight with codes beside it, \"stored_codes\": {\"tensor\", \"sqnr_db\", ...}\n";
}

int runInspect(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json" };
    spec.values = { "--tensor" };
    const Arguments args = parseArguments("inspect", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError(
            "'inspect' needs exactly one checkpoint path: quantscope-cli inspect PATH [--tensor NAME] [--json]");
    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    if (!args.value("--tensor").empty())
        return inspectTensor(checkpoint, args.value("--tensor"), args.has("--json"));
    if (args.has("--json"))
        std::cout << inspectJson(checkpoint).dump(2) << "\n";
    else
        printText(checkpoint);
    return 0;
}

} // namespace

extern const Command inspectCommand { "inspect", "list a checkpoint's tensors", inspectUsage, runInspect };

} // namespace qs::cli
