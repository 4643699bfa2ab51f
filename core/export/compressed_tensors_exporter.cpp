// SPDX-License-Identifier: GPL-3.0-or-later
#include "export/compressed_tensors_exporter.h"

#include "error.h"
#include "export/export_support.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/sharded_safetensors_writer.h"
#include "io/torch_dtype.h"
#include "quant/int_packing.h"
#include "quant/scheme_quantizer.h"
#include "select/keep_list_io.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace qs {
namespace {

using json = nlohmann::ordered_json;

// Scales (and zero points) are stored in the weight's dtype when it is a float type.
DType scaleDType(DType weight)
{
    return weight == DType::BF16 || weight == DType::F16 || weight == DType::F32 || weight == DType::F64 ? weight
                                                                                                         : DType::F16;
}

struct CtPayload
{
    Checkpoint::RawBytes raw;
    at::Tensor weight; // int8 / fp8 codes, or int32 packed words
    at::Tensor scale;
    at::Tensor zeroPoint; // int8, asymmetric only
};

// The QuantizationArgs of the weights, with only the fields every vLLM release accepts.
json weightArgs(const QuantScheme& s, const char* actorder = nullptr)
{
    const bool fp8 = s.format == QuantFormat::Fp8E4M3;
    json a;
    a["num_bits"] = 8;
    if (!fp8)
        a["num_bits"] = s.bits;
    a["type"] = fp8 ? "float" : "int";
    a["symmetric"] = s.symmetric;
    a["group_size"] = s.granularity == Granularity::Group ? json(s.groupSize) : json(nullptr);
    a["strategy"] = std::string(granularityName(s.granularity));
    a["block_structure"] = nullptr;
    a["dynamic"] = false;
    a["actorder"] = actorder ? json(actorder) : json(nullptr);
    a["observer"] = "minmax";
    a["observer_kwargs"] = json::object();
    return a;
}

json activationArgs(const QuantScheme& s)
{
    const bool isStatic = isStaticActivations(s.activations);
    if (s.activations != "int8-token-dynamic" && s.activations != "fp8-token-dynamic" && !isStatic)
        return nullptr;
    json a;
    a["num_bits"] = 8;
    a["type"] = s.activations.rfind("fp8", 0) == 0 ? "float" : "int";
    a["symmetric"] = true;
    a["group_size"] = nullptr;
    a["strategy"] = isStatic ? "tensor" : "token";
    a["block_structure"] = nullptr;
    a["dynamic"] = !isStatic;
    a["actorder"] = nullptr;
    a["observer"] = isStatic ? json("minmax") : json(nullptr);
    a["observer_kwargs"] = json::object();
    return a;
}

// A YAML flow mapping of QuantizationArgs for recipe.yaml.
std::string flow(const json& args)
{
    if (args.is_null())
        return {};
    std::string out = "{";
    for (const auto& [k, v] : args.items()) {
        if (v.is_null() || (v.is_object() && v.empty()))
            continue;
        out += (out.size() > 1 ? ", " : "") + k + ": " + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    return out + "}";
}

// Int weights without quantized activations: vLLM's WNA16 path needs pack-quantized.
bool isPacked(const QuantScheme& s)
{
    return s.format == QuantFormat::Int && activationArgs(s).is_null();
}

std::string formatOf(const QuantScheme& s)
{
    if (isPacked(s))
        return "pack-quantized";
    if (s.format == QuantFormat::Int)
        return "int-quantized";
    return activationArgs(s).is_null() ? "naive-quantized" : "float-quantized";
}

} // namespace

std::pair<std::string, std::string> recipeSchemeArgs(const QuantScheme& scheme)
{
    return { flow(weightArgs(scheme)), flow(activationArgs(scheme)) };
}

void CompressedTensorsExporter::validate(const QuantScheme& s) const
{
    s.validate();
    if (isStaticActivations(s.activations) && !m_options.calibrated)
        throw UsageError("scheme '" + s.name + "': static activation scales (" + s.activations
            + ") come from calibration: give calibration data (--calibration-data) to measure them");
    if (s.activations == "fp8-tensor-static" && s.format != QuantFormat::Fp8E4M3)
        throw UsageError("compressed-tensors: static fp8 activations go with fp8 weights");
    const bool intOk = s.format == QuantFormat::Int && (s.bits == 4 || s.bits == 8);
    if (s.convention != ScaleConvention::CompressedTensors || !(intOk || s.format == QuantFormat::Fp8E4M3)
        || s.rounding != Rounding::NearestEven
        || !(s.granularity == Granularity::Tensor || s.granularity == Granularity::Group
            || (s.granularity == Granularity::Channel && s.axis == 0)))
        throw UsageError("scheme '" + s.name
            + "' cannot be exported as compressed-tensors: vLLM loads int8/int4 or fp8 e4m3 weights per tensor, "
              "output channel or group with compressed-tensors' own scales (presets vllm-w8a8-int8, "
              "vllm-fp8-dynamic, vllm-w4a16, vllm-w8a16)");
    if (s.format == QuantFormat::Fp8E4M3 && s.fp8Max != 448.0)
        throw UsageError(
            "compressed-tensors fp8 uses the full e4m3 range (fp8_max 448), not " + std::to_string(s.fp8Max));
    if (isPacked(s) && !s.symmetric)
        throw UsageError("asymmetric pack-quantized weights are not written yet; use a symmetric scheme");
    if (groupOrder() && s.granularity != Granularity::Group)
        throw UsageError("GPTQ's group activation order is for group scales (weight_g_idx), not " +
            std::string(granularityName(s.granularity)) + " ones (scheme '" + s.name + "'): use static or none");
}

CompressedTensorsExporter::CompressedTensorsExporter(ExportOptions options)
    : m_options(std::move(options))
{
    validate(m_options.scheme);
    for (const auto& [module, scheme] : m_options.moduleSchemes)
        validate(scheme);
}

bool CompressedTensorsExporter::groupOrder() const
{
    return m_options.algorithms.gptq && m_options.algorithms.gptqActOrder == "group";
}

CompressedTensorsExporter::~CompressedTensorsExporter() = default;

std::string CompressedTensorsExporter::format() const
{
    const std::string base = formatOf(m_options.scheme);
    for (const auto& [module, scheme] : m_options.moduleSchemes) {
        if (formatOf(scheme) != base)
            return "mixed-precision";
    }
    return base;
}

std::vector<TensorSpec> CompressedTensorsExporter::outputsFor(const PlannedTensor& tensor) const
{
    const TensorInfo& in = tensor.input;
    if (!tensor.quantize)
        return { TensorSpec { in.name, in.dtype, in.shape } };
    const QuantScheme& s = m_options.schemeFor(in.name);
    // Scales per output channel of the Linear weight [out, in] (a Conv1D's transposed weight).
    const std::int64_t rows = tensor.linearShape().at(0);
    const std::int64_t cols = in.numel() / std::max<std::int64_t>(rows, 1);
    std::vector<std::int64_t> scaleShape { rows, 1 };
    if (s.granularity == Granularity::Tensor)
        scaleShape = { 1 };
    else if (s.granularity == Granularity::Group)
        scaleShape = { rows, (cols + s.groupSize - 1) / s.groupSize };
    const std::string module = moduleOf(in.name);
    std::vector<TensorSpec> out;
    if (isPacked(s)) {
        const std::int64_t words = (cols * s.bits + 31) / 32;
        out.push_back({ module + ".weight_packed", DType::I32, { rows, words } });
        out.push_back({ module + ".weight_scale", scaleDType(in.dtype), scaleShape });
        out.push_back({ module + ".weight_shape", DType::I64, { 2 } });
        if (groupOrder())
            out.push_back({ module + ".weight_g_idx", DType::I32, { cols } });
        return out;
    }
    // An unpacked weight keeps the stored layout: vLLM's GPT-2 transposes every c_attn, c_proj
    // and c_fc `.weight` it loads, codes included (packed weights it does not touch).
    out.push_back({ in.name, s.format == QuantFormat::Fp8E4M3 ? DType::F8_E4M3 : DType::I8, in.shape });
    out.push_back({ module + ".weight_scale", scaleDType(in.dtype), scaleShape });
    if (groupOrder())
        out.push_back({ module + ".weight_g_idx", DType::I32, { cols } });
    if (isStaticActivations(s.activations))
        out.push_back({ module + ".input_scale", scaleDType(in.dtype), { 1 } });
    if (!s.symmetric)
        out.push_back({ module + ".weight_zero_point", DType::I8, scaleShape });
    return out;
}

void CompressedTensorsExporter::begin(const ConversionPlan& plan, const std::filesystem::path& directory)
{
    m_directory = directory;
    std::vector<TensorSpec> specs;
    m_quantizedModules.clear();
    for (const auto& t : plan.tensors) {
        if (t.quantize)
            m_quantizedModules.push_back(moduleOf(t.input.name));
        for (auto& spec : outputsFor(t))
            specs.push_back(std::move(spec));
    }
    m_writer = std::make_unique<ShardedSafetensorsWriter>(directory, std::move(specs), m_options.maxShardBytes);
}

PreparedTensor CompressedTensorsExporter::prepare(
    const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control) const
{
    if (!tensor.quantize)
        return preparedRaw<CtPayload>(tensor, source);
    PreparedTensor prepared = preparedFor(tensor);
    TensorResult& result = prepared.result;
    auto payload = std::make_shared<CtPayload>();
    const QuantScheme& s = m_options.schemeFor(tensor.input.name);
    namingTensor(tensor, [&] {
        SchemeQuantized q = quantizeForExport(tensor, source, s, m_options, control);
        result.error = q.error;
        const at::ScalarType scaleType = toScalarType(scaleDType(tensor.input.dtype));
        const std::vector<std::int64_t> linear = tensor.linearShape();
        at::Tensor codes = q.codes.reshape(linear);
        if (isPacked(s))
            payload->weight = packToInt32(codes, s.bits);
        else
            payload->weight = tensor.transposed ? codes.t().contiguous() : codes;
        if (s.format == QuantFormat::Fp8E4M3)
            payload->weight = payload->weight.view(at::kByte);
        payload->scale = (s.granularity == Granularity::Tensor ? q.scale.reshape({ 1 }) : q.scale).to(scaleType);
        if (!s.symmetric)
            payload->zeroPoint
                = (s.granularity == Granularity::Tensor ? q.zeroPoint.reshape({ 1 }) : q.zeroPoint).to(at::kChar);
    });
    result.quantized = true;
    result.bytesOut = static_cast<std::uint64_t>(payload->weight.numel() * payload->weight.element_size()
        + payload->scale.numel() * payload->scale.element_size()
        + (payload->zeroPoint.defined() ? payload->zeroPoint.numel() : 0) + (isPacked(s) ? 16 : 0));
    prepared.payload = payload;
    return prepared;
}

void CompressedTensorsExporter::commit(const PlannedTensor& tensor, PreparedTensor& prepared)
{
    auto& payload = *static_cast<CtPayload*>(prepared.payload.get());
    if (!tensor.quantize) {
        m_writer->write(tensor.input.name, payload.raw.data, payload.raw.size);
    } else {
        const std::string module = moduleOf(tensor.input.name);
        const QuantScheme& s = m_options.schemeFor(tensor.input.name);
        if (isPacked(s)) {
            writeTensor(*m_writer, module + ".weight_packed", payload.weight);
            writeTensor(*m_writer, module + ".weight_scale", payload.scale);
            const std::int64_t rows = tensor.linearShape().at(0);
            const at::Tensor shape = at::tensor(
                { rows, tensor.input.numel() / std::max<std::int64_t>(rows, 1) }, at::TensorOptions().dtype(at::kLong));
            writeTensor(*m_writer, module + ".weight_shape", shape);
            if (groupOrder())
                writeGroupIndex(tensor);
        } else {
            writeTensor(*m_writer, tensor.input.name, payload.weight);
            writeTensor(*m_writer, module + ".weight_scale", payload.scale);
            if (payload.zeroPoint.defined())
                writeTensor(*m_writer, module + ".weight_zero_point", payload.zeroPoint);
            if (groupOrder())
                writeGroupIndex(tensor);
            if (isStaticActivations(s.activations)) {
                const std::optional<float> scale = m_options.calibrated->inputScale(module);
                if (!scale)
                    throw FormatError("the calibration measured no input of this module, so it has no static input "
                                      "scale",
                        ErrorContext { tensor.input.source, tensor.input.name, {} });
                writeTensor(*m_writer, module + ".input_scale",
                    at::full({ 1 }, *scale, at::kFloat).to(toScalarType(scaleDType(tensor.input.dtype))));
            }
        }
    }
    prepared.payload.reset();
}

void CompressedTensorsExporter::writeGroupIndex(const PlannedTensor& tensor)
{
    const at::Tensor g = m_options.calibrated->groupIndex(tensor.input.name);
    if (!g.defined())
        throw FormatError("GPTQ's group order left this weight without a g_idx",
            ErrorContext { tensor.input.source, tensor.input.name, {} });
    writeTensor(*m_writer, moduleOf(tensor.input.name) + ".weight_g_idx", g.to(at::kInt));
}

void CompressedTensorsExporter::finish()
{
    m_writer->finish();
    for (const auto& f : m_writer->files())
        m_files.push_back(f.filename().string());

    const QuantScheme& s = m_options.scheme;
    const char* actorder = groupOrder() ? "group" : nullptr;
    auto groupFor = [&](const QuantScheme& scheme, json targets) {
        json group;
        group["targets"] = std::move(targets);
        group["weights"] = weightArgs(scheme, actorder);
        group["input_activations"] = activationArgs(scheme);
        group["output_activations"] = nullptr;
        group["format"] = formatOf(scheme);
        return group;
    };
    json groups = json::object();
    if (m_options.moduleSchemes.empty()) {
        groups["group_0"] = groupFor(s, json::array({ "Linear" }));
    } else {
        // One group per scheme with the exact names of its modules: vLLM matches a fused layer's class
        // name ("QKVParallelLinear" contains "Linear") before its shards' names, so a "Linear" target
        // beside exact names would take q/k/v and gate/up away from their own group.
        std::map<std::string, std::pair<const QuantScheme*, std::vector<std::string>>> byScheme;
        std::vector<std::string> order { s.name };
        byScheme[s.name].first = &s;
        for (const std::string& module : m_quantizedModules) {
            const QuantScheme& own = m_options.schemeFor(module);
            auto& entry = byScheme[own.name];
            if (!entry.first) {
                entry.first = &own;
                order.push_back(own.name);
            }
            entry.second.push_back(module);
        }
        int n = 0;
        for (const std::string& name : order) {
            const auto& [scheme, modules] = byScheme[name];
            if (!modules.empty())
                groups["group_" + std::to_string(n++)] = groupFor(*scheme, json(modules));
        }
    }
    json q;
    q["config_groups"] = std::move(groups);
    q["format"] = format();
    q["global_compression_ratio"] = nullptr;
    q["ignore"] = m_options.keptModulePaths;
    q["kv_cache_scheme"] = nullptr;
    q["quant_method"] = "compressed-tensors";
    q["quantization_status"] = "compressed";
    q["sparsity_config"] = json::object();
    q["transform_config"] = json::object();
    q["version"] = "0.12.2";

    json config = json::object();
    if (!m_options.sourceConfigJson.empty()) {
        try {
            config = json::parse(m_options.sourceConfigJson);
        } catch (const json::exception&) {
            config = json::object();
        }
    }
    config["quantization_config"] = q;
    writeFileAtomically(m_directory / "config.json", config.dump(2) + "\n");
    m_files.push_back("config.json");

    std::string recipe
        = "# Written by QuantScope: the quantization this checkpoint holds, as an llm-compressor recipe.\n"
          "# scheme: "
        + s.name + " (convention " + std::string(conventionName(s.convention)) + ")\n";
    std::vector<RecipeGroup> recipeGroups;
    for (const auto& [name, group] : q["config_groups"].items()) {
        recipeGroups.push_back({ group["targets"].get<std::vector<std::string>>(), flow(group["weights"]),
            flow(group["input_activations"]) });
    }
    recipe += writeRecipeYaml(m_options.keptModulePaths, recipeGroups, m_options.algorithms);
    writeFileAtomically(m_directory / "recipe.yaml", recipe);
    m_files.push_back("recipe.yaml");
}

std::vector<std::string> CompressedTensorsExporter::files() const
{
    return m_files;
}

} // namespace qs
