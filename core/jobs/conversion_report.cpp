// SPDX-License-Identifier: GPL-3.0-or-later
#include "jobs/conversion_report.h"

#include "jobs/conversion_job.h"
#include "quant/quant_scheme.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace qs {
namespace {

nlohmann::json finite(double v)
{
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

} // namespace

nlohmann::ordered_json conversionReportJson(
    const ConversionReport& r, const QuantScheme& scheme, const std::vector<std::string>& warnings)
{
    nlohmann::ordered_json j;
    j["destination"] = r.destination.string();
    j["format"] = std::string(exportFormatName(r.format));
    j["scheme"] = schemeToJson(scheme);
    j["quantized_count"] = r.quantizedCount;
    j["kept_modules"] = r.keptModules;
    j["modules_to_not_convert"] = r.modulesToNotConvert;
    j["files"] = r.files;
    j["bytes_in"] = r.bytesIn;
    j["bytes_out"] = r.bytesOut;
    j["size_ratio"] = r.bytesIn ? finite(static_cast<double>(r.bytesOut) / static_cast<double>(r.bytesIn))
                                : nlohmann::json(nullptr);
    j["warnings"] = warnings;
    auto& tensors = j["tensors"];
    tensors = nlohmann::ordered_json::array();
    for (const auto& t : r.tensors) {
        nlohmann::ordered_json e { { "name", t.name }, { "quantized", t.quantized } };
        if (t.quantized) {
            e["mse"] = finite(t.error.mse);
            e["sqnr_db"] = finite(t.error.sqnrDb);
            e["max_abs_error"] = finite(t.error.maxAbsError);
            e["cosine"] = finite(t.error.cosine);
        }
        e["bytes_in"] = t.bytesIn;
        e["bytes_out"] = t.bytesOut;
        tensors.push_back(std::move(e));
    }
    return j;
}

} // namespace qs
