#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "io/checkpoint.h"
#include "jobs/conversion_job.h"
#include "model/module_tree.h"
#include "select/nxd_keep_list.h"
#include "terminal_progress.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

// "10GB" (decimal, as Hugging Face counts), "512MiB", or plain bytes.
std::uint64_t parseByteSize(const std::string& text)
{
    std::size_t pos = 0;
    double number = 0;
    try {
        number = std::stod(text, &pos);
    } catch (const std::exception&) {
        throw UsageError("--max-shard-size: '" + text + "' is not a size such as 5GB or 500MB");
    }
    std::string unit = text.substr(pos);
    for (auto& c : unit)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::pair<const char*, double> units[] = { { "", 1 }, { "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 },
        { "TB", 1e12 }, { "KIB", 1024.0 }, { "MIB", 1048576.0 }, { "GIB", 1073741824.0 } };
    for (const auto& [name, factor] : units) {
        if (unit == name && number > 0)
            return static_cast<std::uint64_t>(std::llround(number * factor));
    }
    throw UsageError("--max-shard-size: '" + text + "' is not a positive size such as 5GB or 500MB");
}

nlohmann::json finite(double v)
{
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::ordered_json reportJson(const ConversionReport& r, const std::vector<std::string>& warnings)
{
    nlohmann::ordered_json j;
    j["destination"] = r.destination.string();
    j["format"] = std::string(exportFormatName(r.format));
    j["quantized_count"] = r.quantizedCount;
    j["kept_modules"] = r.keptModules;
    j["modules_to_not_convert"] = r.modulesToNotConvert;
    j["files"] = r.files;
    j["bytes_in"] = r.bytesIn;
    j["bytes_out"] = r.bytesOut;
    j["warnings"] = warnings;
    auto& tensors = j["tensors"];
    tensors = nlohmann::ordered_json::array();
    for (const auto& t : r.tensors) {
        nlohmann::ordered_json e { { "name", t.name }, { "quantized", t.quantized } };
        if (t.quantized) {
            e["mse"] = finite(t.error.mse);
            e["sqnr_db"] = finite(t.error.sqnrDb);
            e["max_abs_error"] = finite(t.error.maxAbsError);
        }
        tensors.push_back(std::move(e));
    }
    return j;
}

} // namespace

int runConvert(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.values = { "--output", "--format", "--keep", "--max-shard-size" };
    spec.flags = { "--force", "--json" };
    spec.aliases = { { "-o", "--output" } };
    const Arguments args = parseArguments("convert", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'convert' needs exactly one checkpoint path: " + usage("convert"));
    const std::string output = args.value("--output");
    if (output.empty())
        throw UsageError("'convert' needs an output folder (-o OUT)");
    const std::string formatName = args.value("--format");
    if (formatName.empty())
        throw UsageError("'convert' needs --format; available: nxd");
    const auto format = exportFormatFromName(formatName);
    if (!format)
        throw UsageError("unknown --format '" + formatName + "'; available: nxd");

    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());

    ConversionOptions options;
    options.destination = output;
    options.format = *format;
    options.overwrite = args.has("--force");
    if (args.values.count("--max-shard-size"))
        options.maxShardBytes = parseByteSize(args.value("--max-shard-size"));

    std::vector<std::string> warnings;
    const auto patterns = args.all("--keep");
    const NxdKeepResolution resolution = resolveNxdKeepList(tree, patterns);
    for (const auto& p : resolution.unmatched)
        warnings.push_back("--keep '" + p + "' matches no Linear module");
    for (int m : resolution.kept)
        options.keptModules.insert(tree.node(m).path);
    options.modulesToNotConvert = patterns; // NxD matches the same partial names at load time
    if (tree.quantizable().empty())
        warnings.push_back("no Linear weights found: every tensor is copied unchanged");

    for (const auto& w : warnings)
        std::fprintf(stderr, "warning: %s\n", w.c_str());

    TerminalProgress progress;
    const ConversionReport report = convertCheckpoint(checkpoint, tree, options, progress);
    progress.finish();

    if (args.has("--json")) {
        std::cout << reportJson(report, warnings).dump(2) << "\n";
        return 0;
    }
    std::printf("converted %s -> %s (%s)\n", checkpoint.path().string().c_str(), report.destination.string().c_str(),
        std::string(exportFormatName(report.format)).c_str());
    std::printf("  %d Linear weights quantized to int8 per-channel, %zu kept in full precision\n",
        report.quantizedCount, report.keptModules.size());
    std::printf("  %llu bytes -> %llu bytes\n", static_cast<unsigned long long>(report.bytesIn),
        static_cast<unsigned long long>(report.bytesOut));
    for (const auto& f : report.files)
        std::printf("  wrote %s\n", f.c_str());
    return 0;
}

} // namespace qs::cli
