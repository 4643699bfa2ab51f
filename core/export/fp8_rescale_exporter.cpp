// SPDX-License-Identifier: GPL-3.0-or-later
#include "export/fp8_rescale_exporter.h"

#include "error.h"
#include "export/export_support.h"
#include "io/checkpoint.h"
#include "io/sharded_safetensors_writer.h"
#include "quant/fp8.h"
#include "quant/kernels/float_rounding.h"
#include "text.h"

#include <ATen/ATen.h>

namespace qs {
namespace {

constexpr float kFactor = 448.0f / 240.0f; // FP8_SCALING_FACTOR

struct RescalePayload
{
    Checkpoint::RawBytes raw; // copied tensors
    std::vector<std::uint8_t> bytes; // rescaled ones
};

} // namespace

Fp8RescaleExporter::Fp8RescaleExporter(ExportOptions options)
    : m_options(std::move(options))
{ }

Fp8RescaleExporter::~Fp8RescaleExporter() = default;

void Fp8RescaleExporter::begin(const ConversionPlan& plan, const std::filesystem::path& directory)
{
    std::set<std::string> names;
    for (const auto& t : plan.tensors)
        names.insert(t.input.name);
    std::vector<TensorSpec> specs;
    for (const auto& t : plan.tensors) {
        const std::string& n = t.input.name;
        if (t.input.dtype == DType::F8_E4M3 && endsWith(n, ".weight")
            && names.count(n.substr(0, n.size() - 7) + ".weight_scale")) {
            m_weights.insert(n);
            m_scales.insert(n.substr(0, n.size() - 7) + ".weight_scale");
        }
        specs.push_back({ n, t.input.dtype, t.input.shape });
    }
    if (m_weights.empty())
        throw UsageError("fp8 rescaling needs F8_E4M3 weights with a weight_scale (a compressed-tensors FP8 "
                         "checkpoint); this checkpoint has none");
    m_writer = std::make_unique<ShardedSafetensorsWriter>(directory, std::move(specs), m_options.maxShardBytes);
}

PreparedTensor Fp8RescaleExporter::prepare(
    const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl&) const
{
    PreparedTensor prepared = preparedFor(tensor);
    TensorResult& result = prepared.result;
    auto payload = std::make_shared<RescalePayload>();
    const std::string& name = tensor.input.name;
    namingTensor(tensor, [&] {
        if (m_weights.count(name)) {
            const Checkpoint::RawBytes in = source.raw(name);
            payload->bytes.resize(in.size);
            // bf16(w) / F with F in float32 and the quotient rounded to bf16 (PyTorch >= 2.1), then the
            // round-to-nearest-even cast to e4m3.
            for (std::uint64_t i = 0; i < in.size; ++i) {
                const float w = fp8ToFloat(Fp8Format::E4M3, in.data[i]);
                payload->bytes[i] = floatToFp8(Fp8Format::E4M3, kernels::roundToBf16(w / kFactor));
            }
            result.quantized = true;
        } else if (m_scales.count(name)) {
            const at::Tensor scale = source.load(name);
            // In float32, then rounded to the scale's dtype: how PyTorch >= 2.1 evaluates `scale * F`
            // (the Python scalar stays float32; torch 1.13 rounded it to bf16 first).
            const at::Tensor scaled = (scale.to(at::kFloat) * kFactor).to(scale.scalar_type()).contiguous();
            const auto* p = static_cast<const std::uint8_t*>(scaled.data_ptr());
            payload->bytes.assign(p, p + scaled.numel() * scaled.element_size());
        } else {
            payload->raw = source.raw(name);
        }
    });
    result.bytesOut = payload->bytes.empty() ? payload->raw.size : payload->bytes.size();
    prepared.payload = payload;
    return prepared;
}

void Fp8RescaleExporter::commit(const PlannedTensor& tensor, PreparedTensor& prepared)
{
    auto& p = *static_cast<RescalePayload*>(prepared.payload.get());
    if (p.bytes.empty())
        m_writer->write(tensor.input.name, p.raw.data, p.raw.size);
    else
        m_writer->write(tensor.input.name, p.bytes.data(), p.bytes.size());
    prepared.payload.reset();
}

void Fp8RescaleExporter::finish()
{
    m_writer->finish();
    for (const auto& f : m_writer->files())
        m_files.push_back(f.filename().string());
}

std::vector<std::string> Fp8RescaleExporter::files() const
{
    return m_files;
}

} // namespace qs
