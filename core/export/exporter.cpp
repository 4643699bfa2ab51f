#include "export/exporter.h"

#include "export/nxd_exporter.h"

namespace qs {

std::string_view exportFormatName(ExportFormat format)
{
    switch (format) {
    case ExportFormat::Nxd:
        return "nxd";
    }
    return "nxd";
}

std::optional<ExportFormat> exportFormatFromName(std::string_view name)
{
    if (name == "nxd")
        return ExportFormat::Nxd;
    return std::nullopt;
}

TensorResult Exporter::write(const PlannedTensor& tensor, const Checkpoint& source)
{
    PreparedTensor prepared = prepare(tensor, source);
    commit(tensor, prepared);
    return prepared.result;
}

std::unique_ptr<Exporter> makeExporter(ExportFormat format, ExportOptions options)
{
    switch (format) {
    case ExportFormat::Nxd:
        return std::make_unique<NxdExporter>(std::move(options));
    }
    return nullptr;
}

} // namespace qs
