// SPDX-License-Identifier: GPL-3.0-or-later
#include "export/nxd_exporter.h"

#include "error.h"
#include "export/export_support.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/sharded_safetensors_writer.h"
#include "quant/scheme_quantizer.h"
#include "select/keep_list_io.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace qs {
namespace {

std::string scaleName(const std::string& weightName)
{
    return weightName.substr(0, weightName.size() - std::string(".weight").size()) + ".scale";
}

} // namespace

NxdExporter::NxdExporter(ExportOptions options)
    : m_options(std::move(options))
{
    auto check = [](const QuantScheme& s) {
        s.validate();
        const bool fp8 = s.format == QuantFormat::Fp8E4M3 || s.format == QuantFormat::Fp8E5M2;
        if (s.convention != ScaleConvention::Nxd || !(fp8 || (s.format == QuantFormat::Int && s.bits == 8))
            || !s.symmetric || s.rounding != Rounding::NearestEven
            || !(s.granularity == Granularity::Tensor || (s.granularity == Granularity::Channel && s.axis == 0)))
            throw UsageError("scheme '" + s.name
                + "' cannot be exported for AWS Neuron NxD: it loads symmetric int8 or fp8 weights per tensor or per "
                  "output channel with NxD's own scales (presets nxd-int8, nxd-int8-tensor, nxd-fp8, nxd-fp8-e5m2)");
    };
    check(m_options.scheme);
    for (const auto& [module, scheme] : m_options.moduleSchemes)
        check(scheme);
    if (isStaticActivations(m_options.scheme.activations) && !m_options.calibrated)
        throw UsageError("scheme '" + m_options.scheme.name + "': static activation scales ("
            + m_options.scheme.activations + ") come from calibration: give calibration data (--calibration-data)");
}

bool NxdExporter::staticInputs() const
{
    return isStaticActivations(m_options.scheme.activations);
}

NxdExporter::~NxdExporter() = default;

std::vector<TensorSpec> NxdExporter::outputsFor(const PlannedTensor& tensor) const
{
    const TensorInfo& in = tensor.input;
    if (!tensor.quantize)
        return { TensorSpec { in.name, in.dtype, in.shape } };
    // Scale shapes as NxD writes them: [out, 1] per channel; per tensor [1] for int8 and a 0-d
    // tensor for fp8 (quantize_fp8_per_tensor).
    const QuantScheme& s = m_options.schemeFor(in.name);
    const DType codes = s.format == QuantFormat::Fp8E4M3 ? DType::F8_E4M3
        : s.format == QuantFormat::Fp8E5M2               ? DType::F8_E5M2
                                                         : DType::I8;
    // GPT-2's Conv1D weights are written as Linear ones, [out, in].
    const std::vector<std::int64_t> shape = tensor.linearShape();
    std::vector<std::int64_t> scaleShape { shape.at(0), 1 };
    if (s.granularity == Granularity::Tensor)
        scaleShape = codes == DType::I8 ? std::vector<std::int64_t> { 1 } : std::vector<std::int64_t> {};
    std::vector<TensorSpec> out {
        TensorSpec { in.name, codes, shape },
        TensorSpec { scaleName(in.name), DType::F32, scaleShape },
    };
    // NxD Inference (since 2.28) reads a static per-tensor input scale next to `.scale`.
    if (staticInputs())
        out.push_back({ moduleOf(in.name) + ".input_scale", DType::F32, { 1 } });
    return out;
}

void NxdExporter::begin(const ConversionPlan& plan, const std::filesystem::path& directory)
{
    m_directory = directory;
    std::vector<TensorSpec> specs;
    for (const auto& t : plan.tensors) {
        for (auto& spec : outputsFor(t))
            specs.push_back(std::move(spec));
    }
    m_writer = std::make_unique<ShardedSafetensorsWriter>(directory, std::move(specs), m_options.maxShardBytes);
}

namespace {

// What prepare() hands to commit(): the mapped bytes of a copied tensor, or codes and scales.
struct NxdPayload
{
    Checkpoint::RawBytes raw;
    at::Tensor codes;
    at::Tensor scale;
};

} // namespace

PreparedTensor NxdExporter::prepare(
    const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control) const
{
    if (!tensor.quantize)
        return preparedRaw<NxdPayload>(tensor, source);
    PreparedTensor prepared = preparedFor(tensor);
    TensorResult& result = prepared.result;
    auto payload = std::make_shared<NxdPayload>();
    const SchemeQuantized q = namingTensor(tensor, [&] {
        return quantizeForExport(tensor, source, m_options.schemeFor(tensor.input.name), m_options, control);
    });
    result.error = q.error;
    payload->codes = q.codes;
    payload->scale = q.scale;
    result.quantized = true;
    result.bytesOut
        = static_cast<std::uint64_t>(payload->codes.numel()) + static_cast<std::uint64_t>(payload->scale.numel()) * 4;
    prepared.payload = payload;
    return prepared;
}

void NxdExporter::commit(const PlannedTensor& tensor, PreparedTensor& prepared)
{
    auto& payload = *static_cast<NxdPayload*>(prepared.payload.get());
    if (!tensor.quantize) {
        m_writer->write(tensor.input.name, payload.raw.data, payload.raw.size);
    } else {
        writeTensor(*m_writer, tensor.input.name, payload.codes);
        writeTensor(*m_writer, scaleName(tensor.input.name), payload.scale);
        if (staticInputs()) {
            const std::optional<float> scale = m_options.calibrated->inputScale(moduleOf(tensor.input.name));
            if (!scale)
                throw FormatError("the calibration measured no input of this module, so it has no static input scale",
                    ErrorContext { tensor.input.source, tensor.input.name, {} });
            writeTensor(*m_writer, moduleOf(tensor.input.name) + ".input_scale", at::full({ 1 }, *scale, at::kFloat));
        }
    }
    prepared.payload.reset(); // the codes (or the mapping reference) are no longer needed
}

void NxdExporter::finish()
{
    m_writer->finish();
    for (const auto& f : m_writer->files())
        m_files.push_back(f.filename().string());

    const NxdJsonShape shape = m_options.nxdKeepShape == 1 ? NxdJsonShape::UnderModel
        : m_options.nxdKeepShape == 2                      ? NxdJsonShape::WithDraft
                                                           : NxdJsonShape::Flat;
    writeFileAtomically(m_directory / "modules_to_not_convert.json",
        writeNxdKeepJson(m_options.modulesToNotConvert, shape, m_options.modulesToNotConvert));
    m_files.push_back("modules_to_not_convert.json");
}

std::vector<std::string> NxdExporter::files() const
{
    return m_files;
}

} // namespace qs
