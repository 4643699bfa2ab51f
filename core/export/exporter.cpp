// SPDX-License-Identifier: GPL-3.0-or-later
#include "export/exporter.h"

#include "error.h"

#include "export/aiu_exporter.h"
#include "export/compressed_tensors_exporter.h"
#include "export/fp8_rescale_exporter.h"
#include "export/hdf5_exporter.h"
#include "export/nxd_exporter.h"
#include "text.h"

namespace qs {

std::string_view exportFormatName(ExportFormat format)
{
    switch (format) {
    case ExportFormat::Nxd:
        return "nxd";
    case ExportFormat::CompressedTensors:
        return "compressed-tensors";
    case ExportFormat::Aiu:
        return "aiu";
    case ExportFormat::Hdf5:
        return "hdf5";
    case ExportFormat::NxdFp8Rescale:
        return "nxd-fp8-rescale";
    }
    return "nxd";
}

std::optional<ExportFormat> exportFormatFromName(std::string_view name)
{
    if (name == "nxd")
        return ExportFormat::Nxd;
    if (name == "compressed-tensors")
        return ExportFormat::CompressedTensors;
    if (name == "aiu")
        return ExportFormat::Aiu;
    if (name == "hdf5")
        return ExportFormat::Hdf5;
    if (name == "nxd-fp8-rescale")
        return ExportFormat::NxdFp8Rescale;
    return std::nullopt;
}

const QuantScheme& ExportOptions::schemeFor(const std::string& tensorName) const
{
    if (moduleSchemes.empty())
        return scheme;
    const bool weight = endsWith(tensorName, ".weight");
    const auto it = moduleSchemes.find(weight ? tensorName.substr(0, tensorName.size() - 7) : tensorName);
    return it == moduleSchemes.end() ? scheme : it->second;
}

TensorResult Exporter::write(const PlannedTensor& tensor, const Checkpoint& source)
{
    PreparedTensor prepared = prepare(tensor, source);
    commit(tensor, prepared);
    return prepared.result;
}

std::unique_ptr<Exporter> makeExporter(ExportFormat format, ExportOptions options)
{
    // What only the evaluation simulates: no consumer of a checkpoint format here loads it.
    if (format != ExportFormat::Hdf5) {
        for (const auto& [module, own] : options.moduleSchemes) {
            if (own.activations == "int4-token-dynamic")
                options.scheme.activations = own.activations;
        }
        if (options.scheme.activations == "int4-token-dynamic")
            throw UsageError("scheme '" + options.scheme.name
                + "': int4 activations (W4A4) are simulated by eval only; no format QuantScope writes carries "
                  "them (vLLM, NxD and the AIU run int8 or fp8 activations)");
    }
    switch (format) {
    case ExportFormat::Nxd:
        return std::make_unique<NxdExporter>(std::move(options));
    case ExportFormat::CompressedTensors:
        return std::make_unique<CompressedTensorsExporter>(std::move(options));
    case ExportFormat::Aiu: {
        std::string modelType = options.modelType;
        return std::make_unique<AiuExporter>(std::move(options), std::move(modelType));
    }
    case ExportFormat::Hdf5:
        return std::make_unique<Hdf5Exporter>(std::move(options));
    case ExportFormat::NxdFp8Rescale:
        return std::make_unique<Fp8RescaleExporter>(std::move(options));
    }
    return nullptr;
}

} // namespace qs
