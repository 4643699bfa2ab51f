// SPDX-License-Identifier: GPL-3.0-or-later
#include "jobs/conversion_job.h"

#include "error.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "jobs/conversion_plan.h"
#include "jobs/conversion_report.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "quant/output_cache.h"
#include "select/nxd_keep_list.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <fstream>
#include <future>
#include <iterator>
#include <thread>

namespace qs {
namespace fs = std::filesystem;

const char* const kManifestName = "quantscope_manifest.json";

bool isCompanionFile(const std::string& name)
{
    static const std::vector<std::string> exact = { "config.json", "generation_config.json", "tokenizer.json",
        "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json", "vocab.txt", "merges.txt",
        "added_tokens.json", "chat_template.json", "chat_template.jinja" };
    return std::find(exact.begin(), exact.end(), name) != exact.end();
}

namespace {

// The source's config.json text with `patch` applied (the text itself when there is none).
std::string patchedConfig(const std::string& text, const nlohmann::json& patch)
{
    if (!patch.is_object() || patch.empty() || text.empty())
        return text;
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(text, nullptr, false);
    if (!config.is_object())
        return text;
    for (const auto& [key, value] : patch.items())
        config[key] = value;
    return config.dump(2) + "\n";
}

std::vector<std::string> copyCompanionFiles(
    const Checkpoint& checkpoint, const fs::path& staging, const nlohmann::json& configPatch)
{
    std::vector<std::string> copied;
    if (!fs::is_directory(checkpoint.folder()))
        return copied;
    for (const auto& entry : fs::directory_iterator(checkpoint.folder())) {
        const auto name = entry.path().filename().string();
        // Files the exporter wrote itself (compressed-tensors' extended config.json) win.
        if (!entry.is_regular_file() || !isCompanionFile(name) || fs::exists(staging / name))
            continue;
        std::error_code ec;
        if (name == "config.json" && configPatch.is_object() && !configPatch.empty()) {
            std::ifstream in(entry.path(), std::ios::binary);
            const std::string text { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
            std::ofstream out(staging / name, std::ios::binary);
            out << patchedConfig(text, configPatch);
            if (!out)
                throw IoError("cannot write into the output", ErrorContext { (staging / name).string(), {}, {} });
            copied.push_back(name);
            continue;
        }
        fs::copy_file(entry.path(), staging / name, ec);
        if (ec)
            throw IoError(
                "cannot copy into the output: " + ec.message(), ErrorContext { entry.path().string(), {}, {} });
        copied.push_back(name);
    }
    std::sort(copied.begin(), copied.end());
    return copied;
}

// What the exporter needs from the request, the plan and the source.
ExportOptions exportOptionsFor(const Checkpoint& checkpoint, const ModuleTree& tree, const ConversionPlan& plan,
    const ConversionOptions& options, const std::vector<std::string>& keptModules)
{
    ExportOptions exportOptions;
    exportOptions.maxShardBytes = options.maxShardBytes;
    exportOptions.scheme = options.scheme;
    exportOptions.moduleSchemes = options.moduleSchemes;
    exportOptions.modulesToNotConvert = options.modulesToNotConvert.empty() ? compactNxdKeepList(tree, plan.keptModules)
                                                                            : options.modulesToNotConvert;
    exportOptions.keptModulePaths = keptModules;
    exportOptions.modelType = checkpoint.modelType();
    exportOptions.hdf5IncludeOriginal = options.hdf5IncludeOriginal;
    exportOptions.nxdKeepShape = options.nxdKeepShape;
    exportOptions.hdf5Gzip = options.hdf5Gzip;
    exportOptions.calibrated = options.calibrated;
    exportOptions.algorithms = options.algorithms;
    if (fs::is_regular_file(checkpoint.folder() / "config.json")) {
        std::ifstream in(checkpoint.folder() / "config.json", std::ios::binary);
        exportOptions.sourceConfigJson.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        exportOptions.sourceConfigJson = patchedConfig(exportOptions.sourceConfigJson, options.configPatch);
    }
    return exportOptions;
}

// Streams every planned tensor through the exporter: workers prepare (quantize) tensors ahead,
// this thread commits them in plan order and releases their pages. In-flight work is bounded
// by the worker count and the memory budget. Returns the last progress update.
ProgressUpdate streamTensors(const Checkpoint& checkpoint, const ConversionPlan& plan, const ConversionOptions& options,
    Exporter& exporter, ConversionReport& report, Progress& progress)
{
    ProgressUpdate update;
    update.stepsTotal = static_cast<std::int64_t>(plan.tensors.size());
    update.bytesTotal = plan.inputBytes;
    progress.report(update);
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t workers
        = static_cast<std::size_t>(options.workers > 0 ? options.workers : static_cast<int>(cores));
    // The workers' cancellation: the job's, or this loop's own when it leaves early (an error).
    CancelFlag stop(&progress);
    struct InFlight
    {
        std::future<PreparedTensor> result;
        std::uint64_t bytes = 0;
    };
    std::deque<InFlight> inFlight;
    std::uint64_t inFlightBytes = 0;
    std::size_t next = 0;
    // On any exit (error, cancel) let running workers finish before the exporter goes away.
    struct Drain
    {
        CancelFlag& stop;
        std::deque<InFlight>& inFlight;
        ~Drain()
        {
            stop.cancel();
            for (auto& f : inFlight) {
                if (f.result.valid())
                    f.result.wait();
            }
        }
    } drain { stop, inFlight };
    const Exporter& preparer = exporter;
    // With several tensors in flight each one runs on one thread; a single worker may split
    // its tensor over the intra-op threads. `stop` aborts running quantizers between rows.
    PrepareControl control;
    control.parallel = workers == 1;
    control.cancel = stop.token();
    while (next < plan.tensors.size() || !inFlight.empty()) {
        while (next < plan.tensors.size() && inFlight.size() < workers
            && (inFlight.empty() || inFlightBytes + plan.tensors[next].input.bytes <= options.memoryBudgetBytes)) {
            const PlannedTensor* planned = &plan.tensors[next++];
            inFlight.push_back({ std::async(std::launch::async,
                                     [planned, &checkpoint, &preparer, &stop, &control] {
                                         stop.checkCancelled();
                                         return preparer.prepare(*planned, checkpoint, control);
                                     }),
                planned->input.bytes });
            inFlightBytes += planned->input.bytes;
        }
        const PlannedTensor& planned = plan.tensors[next - inFlight.size()];
        update.current = planned.input.name;
        progress.report(update);
        // A cancel reaches the running quantizers through `control.cancel`: they stop at their
        // next row and this get() rethrows their CancelledError.
        PreparedTensor prepared = inFlight.front().result.get();
        inFlightBytes -= inFlight.front().bytes;
        inFlight.pop_front();
        progress.checkCancelled();

        exporter.commit(planned, prepared);
        checkpoint.release(planned.input.name);
        report.bytesOut += prepared.result.bytesOut;
        report.quantizedCount += prepared.result.quantized ? 1 : 0;
        report.tensors.push_back(std::move(prepared.result));

        ++update.stepsDone;
        update.bytesDone += planned.input.bytes;
    }
    return update;
}

} // namespace

ConversionReport convertCheckpoint(
    const Checkpoint& checkpoint, const ModuleTree& tree, const ConversionOptions& options, Progress& progress)
{
    ensureDoesNotTouchInput(checkpoint.folder(), options.destination);
    for (const auto& file : checkpoint.dataFiles())
        ensureDoesNotTouchInput(file, options.destination);

    const ConversionPlan plan = planConversion(checkpoint, tree, options.keptModules);
    ConversionReport report;
    report.format = options.format;
    for (int m : tree.quantizable()) { // tree order
        if (plan.keptModules.count(m))
            report.keptModules.push_back(tree.node(m).path);
    }
    const ExportOptions exportOptions = exportOptionsFor(checkpoint, tree, plan, options, report.keptModules);
    report.modulesToNotConvert = exportOptions.modulesToNotConvert;
    report.bytesIn = plan.inputBytes;

    AtomicOutputDir output(options.destination, options.overwrite);
    report.removedStaleStaging = output.removedStale();
    struct ReleaseOutputs // the reusable output mappings go when the conversion ends, however it ends
    {
        ~ReleaseOutputs() { releaseCachedOutputs(); }
    } releaseOutputs;
    report.destination = output.destination();
    auto exporter = makeExporter(options.format, exportOptions);
    exporter->begin(plan, output.staging());

    ProgressUpdate update = streamTensors(checkpoint, plan, options, *exporter, report, progress);
    progress.checkCancelled();
    exporter->finish();
    report.files = exporter->files();
    for (auto& f : copyCompanionFiles(checkpoint, output.staging(), options.configPatch))
        report.files.push_back(std::move(f));
    // What was converted and kept, and the sizes, next to the checkpoint.
    report.destination = output.destination();
    report.files.push_back(kManifestName);
    auto manifest = conversionReportJson(report, options.scheme);
    manifest.erase("destination"); // where it lies; the source is what matters
    manifest["source"] = checkpoint.path().string();
    writeFileAtomically(output.staging() / kManifestName, manifest.dump(2) + "\n");
    progress.checkCancelled();
    output.commit();
    update.current.clear();
    progress.report(update);
    return report;
}

} // namespace qs
