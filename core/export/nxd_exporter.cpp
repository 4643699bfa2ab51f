#include "export/nxd_exporter.h"

#include "error.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/sharded_safetensors_writer.h"
#include "quant/int8_per_channel.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace qs {
namespace {

std::string scaleName(const std::string& weightName)
{
    return weightName.substr(0, weightName.size() - std::string(".weight").size()) + ".scale";
}

void writeTensor(ShardedSafetensorsWriter& writer, const std::string& name, const at::Tensor& t)
{
    const at::Tensor c = t.contiguous();
    writer.write(name, c.data_ptr(), static_cast<std::uint64_t>(c.numel()) * c.element_size());
}

} // namespace

NxdExporter::NxdExporter(ExportOptions options)
    : m_options(std::move(options))
{ }

NxdExporter::~NxdExporter() = default;

std::vector<TensorSpec> NxdExporter::outputsFor(const PlannedTensor& tensor)
{
    const TensorInfo& in = tensor.input;
    if (!tensor.quantize)
        return { TensorSpec { in.name, in.dtype, in.shape } };
    return {
        TensorSpec { in.name, DType::I8, in.shape },
        TensorSpec { scaleName(in.name), DType::F32, { in.shape.at(0), 1 } },
    };
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

TensorResult NxdExporter::write(const PlannedTensor& tensor, const Checkpoint& source)
{
    TensorResult result;
    result.name = tensor.input.name;
    result.bytesIn = tensor.input.bytes;
    if (!tensor.quantize) {
        // Byte for byte, whatever the dtype (fp8 and other types libtorch cannot hold included).
        const auto raw = source.raw(tensor.input.name);
        m_writer->write(tensor.input.name, raw.data, raw.size);
        result.bytesOut = raw.size;
        return result;
    }
    QuantizedTensor q;
    try {
        q = quantizeInt8PerChannelNxd(source.load(tensor.input.name), &result.error);
    } catch (const Error& e) {
        throw FormatError(e.reason(), ErrorContext { tensor.input.source, tensor.input.name, {} });
    }
    writeTensor(*m_writer, tensor.input.name, q.codes);
    writeTensor(*m_writer, scaleName(tensor.input.name), q.scale);
    result.quantized = true;
    result.bytesOut = static_cast<std::uint64_t>(q.codes.numel()) + static_cast<std::uint64_t>(q.scale.numel()) * 4;
    return result;
}

void NxdExporter::finish()
{
    m_writer->finish();
    for (const auto& f : m_writer->files())
        m_files.push_back(f.filename().string());

    nlohmann::ordered_json keep;
    keep["modules_to_not_convert"] = m_options.modulesToNotConvert;
    writeFileAtomically(m_directory / "modules_to_not_convert.json", keep.dump(4) + "\n");
    m_files.push_back("modules_to_not_convert.json");
}

std::vector<std::string> NxdExporter::files() const
{
    return m_files;
}

} // namespace qs
