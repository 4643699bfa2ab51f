// SPDX-License-Identifier: GPL-3.0-or-later
#include "export/aiu_exporter.h"

#include "error.h"
#include "export/export_support.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "quant/scheme_quantizer.h"
#include "text.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <ctime>

namespace qs {
namespace {

struct AiuPayload
{
    at::Tensor tensor; // fp16 copy, or int8 codes
    at::Tensor clip; // fp16
};

} // namespace

std::vector<std::string> aiuQuantizedLinearNames(const std::string& modelType)
{
    if (modelType == "llama" || modelType == "granite")
        return { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
            "mlp.up_proj", "mlp.down_proj" };
    if (modelType == "gpt_bigcode")
        return { "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj" };
    if (modelType == "bert" || modelType == "roberta")
        return { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
            "intermediate.dense", "output.dense" };
    return {};
}

std::vector<std::string> aiuSmoothQuantLayerNames(const std::string& modelType)
{
    if (modelType == "llama" || modelType == "granite")
        return { "k_proj", "v_proj", "gate_proj", "up_proj" };
    if (modelType == "gpt_bigcode")
        return { "c_attn", "c_fc" };
    if (modelType == "bert" || modelType == "roberta")
        return { "attention.self.query", "attention.self.key", "attention.self.value", "intermediate.dense" };
    return {};
}

AiuExporter::AiuExporter(ExportOptions options, std::string modelType)
    : m_options(std::move(options))
    , m_modelType(std::move(modelType))
    , m_fragments(aiuQuantizedLinearNames(m_modelType))
{
    const QuantScheme& s = m_options.scheme;
    s.validate();
    if (isStaticActivations(s.activations))
        throw UsageError("scheme '" + s.name + "': static activation scales (" + s.activations
            + "): the AIU export writes fms-mo's per-token dynamic activations; static input scales are written for "
              "compressed-tensors");
    if (s.convention != ScaleConvention::FmsMo || s.format != QuantFormat::Int || s.bits != 8 || !s.symmetric
        || s.rounding != Rounding::NearestEven
        || !(s.granularity == Granularity::Tensor || (s.granularity == Granularity::Channel && s.axis == 0)))
        throw UsageError("scheme '" + s.name
            + "' cannot be exported for IBM AIU: fms-mo writes symmetric int8 weights per channel or per tensor with "
              "clip/127 scales (preset aiu-int8)");
    if (m_fragments.empty())
        throw UsageError("IBM AIU export: model type '" + (m_modelType.empty() ? std::string("unknown") : m_modelType)
            + "' is not supported by fms-mo's save_for_aiu (llama, granite, gpt_bigcode, bert, roberta)");
    if (!m_options.moduleSchemes.empty())
        throw UsageError("IBM AIU export: per-module schemes are not supported");
}

AiuExporter::~AiuExporter() = default;

bool AiuExporter::smoothed(const std::string& module) const
{
    return m_options.calibrated && m_options.calibrated->hasSmoothScale(module);
}

bool AiuExporter::isAiuQuantized(const std::string& name) const
{
    if (!endsWith(name, ".weight"))
        return false;
    for (const auto& f : m_fragments) {
        if (name.find(f) != std::string::npos)
            return true;
    }
    return false;
}

void AiuExporter::begin(const ConversionPlan& plan, const std::filesystem::path& directory)
{
    m_directory = directory;
    std::vector<TorchTensorSpec> specs;
    for (const auto& t : plan.tensors) {
        const bool q = t.quantize && isAiuQuantized(t.input.name);
        if (!q && endsWith(t.input.name, ".weight") && t.input.shape.size() == 2 && t.quantize)
            m_skipped.push_back(moduleOf(t.input.name)); // a Linear fms-mo does not quantize (lm_head, ...)
        specs.push_back({ t.input.name, q ? DType::I8 : DType::F16, t.input.shape, {} });
        if (q) {
            const std::vector<std::int64_t> clipShape {
                m_options.scheme.granularity == Granularity::Tensor ? std::int64_t { 1 } : t.input.shape.at(0)
            };
            specs.push_back({ moduleOf(t.input.name) + ".quantize_weight.clip_val", DType::F16, clipShape, {} });
            specs.push_back({ moduleOf(t.input.name) + ".quantize_weight.clip_valn", DType::F16, clipShape, {} });
            if (smoothed(moduleOf(t.input.name)))
                specs.push_back({ moduleOf(t.input.name) + ".smoothq_scale", DType::F16, { t.input.shape.at(1) }, {} });
        }
    }
    for (const auto& kept : m_options.keptModulePaths)
        m_skipped.push_back(kept);
    m_writer
        = std::make_unique<TorchFileWriter>(directory / "qmodel_for_aiu.pt", std::move(specs), /*orderedDict=*/false);
}

PreparedTensor AiuExporter::prepare(
    const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control) const
{
    PreparedTensor prepared = preparedFor(tensor);
    TensorResult& result = prepared.result;
    auto payload = std::make_shared<AiuPayload>();
    namingTensor(tensor, [&] {
        const at::Tensor value = source.loadFloat(tensor.input.name);
        if (tensor.quantize && isAiuQuantized(tensor.input.name)) {
            std::optional<SchemeQuantized> calibrated
                = m_options.calibrated ? m_options.calibrated->quantized(tensor.input.name) : std::nullopt;
            SchemeQuantized q = calibrated ? std::move(*calibrated)
                                           : quantizeWithScheme(value, m_options.scheme, quantizeOptionsFor(control));
            result.error = q.error;
            result.quantized = true;
            payload->tensor = q.codes.reshape(tensor.input.shape);
            payload->clip = q.clip.reshape({ -1 }).to(at::kHalf);
        } else {
            // Everything else is saved as float16, as fms-mo does; values beyond its range are refused.
            const double absMax = value.numel() ? value.abs().max().item<double>() : 0.0;
            if (!(absMax <= 65504.0))
                throw FormatError("holds values up to " + std::to_string(absMax)
                    + ", beyond float16's range; fms-mo refuses such checkpoints too");
            payload->tensor = value.to(at::kHalf).contiguous();
        }
    });
    result.bytesOut = static_cast<std::uint64_t>(payload->tensor.numel() * payload->tensor.element_size()
        + (payload->clip.defined() ? payload->clip.numel() * 4 : 0));
    prepared.payload = payload;
    return prepared;
}

void AiuExporter::commit(const PlannedTensor& tensor, PreparedTensor& prepared)
{
    auto& payload = *static_cast<AiuPayload*>(prepared.payload.get());
    const at::Tensor t = payload.tensor.contiguous();
    m_writer->write(tensor.input.name, t.data_ptr(), static_cast<std::uint64_t>(t.numel() * t.element_size()));
    if (payload.clip.defined()) {
        const at::Tensor clip = payload.clip.contiguous();
        const at::Tensor clipn = (-payload.clip).contiguous();
        const std::string module = moduleOf(tensor.input.name);
        m_writer->write(
            module + ".quantize_weight.clip_val", clip.data_ptr(), static_cast<std::uint64_t>(clip.numel() * 2));
        m_writer->write(
            module + ".quantize_weight.clip_valn", clipn.data_ptr(), static_cast<std::uint64_t>(clipn.numel() * 2));
        if (smoothed(module)) {
            // As fms-mo saves it: s [in] in float16, what the AIU divides the input by.
            const at::Tensor s = m_options.calibrated->smoothScale(module).to(at::kHalf).contiguous();
            m_writer->write(module + ".smoothq_scale", s.data_ptr(), static_cast<std::uint64_t>(s.numel() * 2));
        }
    }
    prepared.payload.reset();
}

void AiuExporter::finish()
{
    m_writer->finish();
    m_files.push_back("qmodel_for_aiu.pt");
    const QuantScheme& s = m_options.scheme;
    char date[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%B-%d", std::localtime(&now));
    nlohmann::ordered_json q;
    q["qa_mode"] = s.activations == "int8-token-dynamic" ? "pertokenmax" : "fp16";
    q["qw_mode"] = s.granularity == Granularity::Tensor ? "max" : "maxperCh";
    const bool smoothQuant = m_options.calibrated && !m_options.calibrated->smoothedModules().empty();
    q["smoothq"] = smoothQuant;
    q["smoothq_scale_layers"]
        = smoothQuant ? nlohmann::ordered_json(aiuSmoothQuantLayerNames(m_modelType)) : nlohmann::ordered_json::array();
    if (smoothQuant)
        q["smoothq_alpha"] = m_options.algorithms.smoothQuant.value_or(0.65);
    q["qskip_layer_name"] = m_skipped;
    q["qskip_large_mag_layers"] = false;
    q["recompute_narrow_weights"] = s.recomputeNarrowWeights;
    q["date"] = date;
    q["pkg_versions"] = { { "quantscope", "0.1.0" } };
    writeFileAtomically(m_directory / "qcfg.json", q.dump(4) + "\n");
    m_files.push_back("qcfg.json");
}

std::vector<std::string> AiuExporter::files() const
{
    return m_files;
}

} // namespace qs
