// SPDX-License-Identifier: GPL-3.0-or-later
#include "export_output.h"

#include "algorithm_options.h"
#include "io/checkpoint.h"
#include "jobs/conversion_report.h"
#include "runtime/calibrated_export.h"
#include "runtime/memory.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& i : items)
        out += (out.empty() ? "" : ", ") + i;
    return out;
}

void addCalibrationJson(nlohmann::ordered_json& out, const ExportCalibrationReport& c)
{
    nlohmann::ordered_json j { { "algorithms", c.algorithms }, { "samples", c.samples }, { "tokens", c.tokens },
        { "smoothed_norms", c.smoothedNorms }, { "smoothed_modules", c.smoothedModules },
        { "gptq_modules", c.gptqLoss.size() }, { "input_scales", c.inputScales }, { "seconds", c.seconds },
        { "peak_rss_bytes", c.peakRssBytes } };
    if (!c.awq.empty()) {
        nlohmann::ordered_json mappings = nlohmann::ordered_json::array();
        for (const AwqMappingReport& m : c.awq)
            mappings.push_back({ { "smooth_layer", m.smooth }, { "parent", m.parent }, { "ratio", m.ratio },
                { "duo_scaling", m.duo }, { "initial_loss", m.initialLoss }, { "best_loss", m.bestLoss } });
        j["awq"] = std::move(mappings);
    }
    if (!c.warnings.empty())
        j["warnings"] = c.warnings;
    out["calibration"] = std::move(j);
    out["algorithms"] = c.algorithms;
    if (out.contains("tensors")) {
        for (auto& t : out["tensors"]) {
            const std::string name = t.value("name", std::string());
            const std::string module = name.size() > 7 ? name.substr(0, name.size() - 7) : name;
            if (const auto it = c.gptqLoss.find(module);
                it != c.gptqLoss.end() && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
                t["gptq_loss"] = it->second;
        }
    }
}

void printReport(const Checkpoint& checkpoint, const ConversionReport& report, const QuantScheme& scheme)
{
    std::printf("converted %s -> %s (%s)\n", checkpoint.path().string().c_str(), report.destination.string().c_str(),
        std::string(exportFormatName(report.format)).c_str());
    std::printf("  %d Linear weights quantized with %s, %zu kept in full precision\n", report.quantizedCount,
        scheme.name.c_str(), report.keptModules.size());
    std::printf("  %llu bytes -> %llu bytes\n", static_cast<unsigned long long>(report.bytesIn),
        static_cast<unsigned long long>(report.bytesOut));
    for (const auto& f : report.files)
        std::printf("  wrote %s\n", f.c_str());
}

} // namespace

void printExportResult(const Checkpoint& checkpoint, const CalibratedExport& result, const QuantScheme& scheme,
    const std::vector<std::string>& warnings, bool json)
{
    if (json) {
        nlohmann::ordered_json out = conversionReportJson(result.conversion, scheme, warnings);
        if (result.calibration)
            addCalibrationJson(out, *result.calibration);
        if (const auto& r = result.rotation)
            out["rotation"] = { { "r1", r->r1 }, { "r2", r->r2 }, { "tensors", r->rotatedTensors },
                { "folded_norms", r->foldedNorms }, { "seconds", r->seconds } };
        if (result.spinQuant)
            out["spinquant"] = spinQuantJson(*result.spinQuant);
        std::cout << out.dump(2) << "\n";
        return;
    }
    printReport(checkpoint, result.conversion, scheme);
    if (const auto& r = result.rotation)
        std::printf("  rotated: R1 %s%s (%d tensors, %d norms folded) in %.1f s\n", r->r1.c_str(),
            r->r2.empty() ? "" : (", R2 " + r->r2).c_str(), r->rotatedTensors, r->foldedNorms, r->seconds);
    if (const auto& q = result.spinQuant)
        std::printf("  SpinQuant: %d steps on %d samples, loss %.4f -> %.4f in %.1f s\n", q->steps, q->samples,
            q->initialLoss, q->finalLoss, q->seconds);
    if (const auto& c = result.calibration)
        std::printf("  calibrated on %d samples (%lld tokens): %s; peak memory %s\n", c->samples,
            static_cast<long long>(c->tokens), joined(c->algorithms).c_str(), formatBytes(c->peakRssBytes).c_str());
}

} // namespace qs::cli
