// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/quantization_info.h"

#include "text.h"

#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <unordered_map>

namespace qs {
namespace {

std::string stem(const std::string& name, const std::string& suffix)
{
    return name.substr(0, name.size() - suffix.size());
}

// "int8 channel" from a compressed-tensors QuantizationArgs object.
std::string describeArgs(const nlohmann::json& args)
{
    if (!args.is_object())
        return "none";
    std::string out = args.value("type", std::string("int")) + std::to_string(args.value("num_bits", 8));
    if (args.contains("strategy") && args["strategy"].is_string())
        out += " " + args["strategy"].get<std::string>();
    if (args.contains("group_size") && args["group_size"].is_number_integer() && args["group_size"].get<int>() > 0)
        out += " (group " + std::to_string(args["group_size"].get<int>()) + ")";
    if (args.contains("symmetric") && args["symmetric"].is_boolean() && !args["symmetric"].get<bool>())
        out += " asymmetric";
    if (args.contains("dynamic") && args["dynamic"].is_boolean() && args["dynamic"].get<bool>())
        out += " dynamic";
    return out;
}

void describeCompressedTensors(QuantizationInfo& info, const nlohmann::json& q)
{
    const std::string format = q.value("format", std::string("?"));
    info.summary = "compressed-tensors " + format;
    info.details["format"] = format;
    info.details["quantization_status"] = q.value("quantization_status", std::string());
    std::vector<std::string> parts;
    if (q.contains("config_groups") && q["config_groups"].is_object()) {
        for (const auto& [group, scheme] : q["config_groups"].items()) {
            if (!scheme.is_object())
                continue;
            const std::string w = describeArgs(scheme.value("weights", nlohmann::json()));
            const std::string a = describeArgs(scheme.value("input_activations", nlohmann::json()));
            parts.push_back("weights " + w + (a == "none" ? "" : ", activations " + a));
            info.details["config_groups"][group] = scheme;
        }
    }
    for (std::size_t i = 0; i < parts.size(); ++i)
        info.summary += (i ? "; " : ": ") + parts[i];
    if (q.contains("ignore") && q["ignore"].is_array()) {
        info.details["ignore"] = q["ignore"];
        std::string ignore;
        for (const auto& i : q["ignore"])
            ignore += (ignore.empty() ? "" : ", ") + (i.is_string() ? i.get<std::string>() : i.dump());
        if (!ignore.empty())
            info.summary += "; ignore " + ignore;
    }
}

nlohmann::json readJsonOrNull(const std::filesystem::path& file)
{
    std::ifstream in(file);
    if (!in)
        return nullptr;
    std::stringstream buffer;
    buffer << in.rdbuf();
    return nlohmann::json::parse(buffer.str(), nullptr, false);
}

int packedBitsOf(const nlohmann::json& q)
{
    if (q.contains("config_groups") && q["config_groups"].is_object()) {
        for (const auto& [group, scheme] : q["config_groups"].items()) {
            if (scheme.is_object() && scheme.contains("weights") && scheme["weights"].is_object())
                return scheme["weights"].value("num_bits", 4);
        }
    }
    return 4;
}

// The weights' group_size of the first config group, 0 when there is none.
std::int64_t groupSizeOf(const nlohmann::json& q)
{
    if (q.contains("config_groups") && q["config_groups"].is_object()) {
        for (const auto& [group, scheme] : q["config_groups"].items()) {
            if (scheme.is_object() && scheme.contains("weights") && scheme["weights"].is_object()) {
                const nlohmann::json& g = scheme["weights"].value("group_size", nlohmann::json());
                return g.is_number_integer() && g.get<std::int64_t>() > 0 ? g.get<std::int64_t>() : 0;
            }
        }
    }
    return 0;
}

bool isForkActivationName(const std::string& name)
{
    const auto dot = name.rfind('.');
    const std::string last = dot == std::string::npos ? name : name.substr(dot + 1);
    return (last.rfind("attn_act_", 0) == 0 || last.rfind("mlp_act_", 0) == 0) && !endsWith(last, "_scale")
        && !endsWith(last, "_zero_point");
}

// The nanoGPT quantization fork's stored codes: QuantizedLinear weights and biases, and the
// activations of --store_activations. False when there are none.
bool detectNanogptFork(QuantizationInfo& info, const std::vector<TensorInfo>& tensors,
    const std::function<bool(const std::string&)>& has)
{
    std::size_t weights = 0;
    std::set<std::string> points;
    std::string codeTypes;
    for (const auto& t : tensors) {
        if (isFloatingPoint(t.dtype))
            continue;
        DequantRecipe r;
        std::string floatTensor;
        if (endsWith(t.name, ".quantized_weight") && has(stem(t.name, "quantized_weight") + "weight_norm")) {
            const std::string base = stem(t.name, "quantized_weight");
            r = DequantRecipe { t.name, base + "weight_norm", {}, {}, {}, 0, 1.0 };
            if (has(base + "weight_zero_point"))
                r.zeroPoint = base + "weight_zero_point";
            floatTensor = base + "weight";
            ++weights;
            const std::string type(dtypeName(t.dtype));
            if (codeTypes.find(type) == std::string::npos)
                codeTypes += (codeTypes.empty() ? "" : "/") + type;
        } else if (endsWith(t.name, ".quantized_bias") && has(stem(t.name, "quantized_bias") + "bias_norm")) {
            const std::string base = stem(t.name, "quantized_bias");
            r = DequantRecipe { t.name, base + "bias_norm", {}, {}, {}, 0, 1.0 };
            if (has(base + "bias_zero_point"))
                r.zeroPoint = base + "bias_zero_point";
            floatTensor = base + "bias";
        } else if (isForkActivationName(t.name) && has(t.name + "_scale")) {
            r = DequantRecipe { t.name, t.name + "_scale", {}, {}, {}, 0, 1.0 };
            if (has(t.name + "_zero_point"))
                r.zeroPoint = t.name + "_zero_point";
            info.activations.push_back(t.name);
            points.insert(t.name.substr(t.name.rfind('.') + 1));
        } else {
            continue;
        }
        if (!floatTensor.empty() && has(floatTensor))
            info.storedCodes[floatTensor] = t.name;
        info.recipes[t.name] = r;
    }
    if (info.recipes.empty())
        return false;
    info.kind = "nanogpt-fork";
    info.summary = "nanoGPT quantization fork: " + std::to_string(weights) + " QuantizedLinear weights ("
        + (codeTypes.empty() ? std::string("no") : codeTypes)
        + " codes, one weight_norm scale and weight_zero_point per tensor)";
    if (!info.activations.empty())
        info.summary += ", " + std::to_string(info.activations.size()) + " stored activations ("
            + std::to_string(points.size()) + " points)";
    info.summary += info.storedCodes.empty() ? "; no float weights beside them" : "; float weights beside them";
    info.details["quantized_weights"] = weights;
    info.details["stored_activations"] = info.activations.size();
    info.details["activation_points"] = std::vector<std::string>(points.begin(), points.end());
    info.details["float_weights"] = !info.storedCodes.empty();
    return true;
}

} // namespace

QuantizationInfo detectQuantization(
    const std::vector<TensorInfo>& tensors, const nlohmann::json& config, const std::filesystem::path& folder)
{
    QuantizationInfo info;
    std::unordered_map<std::string, const TensorInfo*> byName;
    for (const auto& t : tensors)
        byName.emplace(t.name, &t);
    auto has = [&](const std::string& name) { return byName.count(name) > 0; };

    const nlohmann::json q = config.is_object() && config.contains("quantization_config")
        ? config["quantization_config"]
        : nlohmann::json();
    const std::string method = q.is_object() ? q.value("quant_method", std::string()) : std::string();

    if (method == "compressed-tensors") {
        info.kind = "compressed-tensors";
        describeCompressedTensors(info, q);
        const int bits = packedBitsOf(q);
        const std::int64_t groupSize = groupSizeOf(q);
        for (const auto& t : tensors) {
            if (endsWith(t.name, ".weight_packed") && has(stem(t.name, "_packed") + "_scale")) {
                const std::string base = stem(t.name, ".weight_packed");
                DequantRecipe r { t.name, base + ".weight_scale", {}, {}, {}, bits, 1.0 };
                if (has(base + ".weight_shape"))
                    r.shape = base + ".weight_shape";
                if (has(base + ".weight_zero_point"))
                    r.zeroPoint = base + ".weight_zero_point";
                r.groupSize = groupSize;
                info.recipes[t.name] = r;
            } else if (endsWith(t.name, ".weight") && !isFloatingPoint(t.dtype) && has(t.name + "_scale")) {
                DequantRecipe r { t.name, t.name + "_scale", {}, {}, {}, 0, 1.0 };
                if (has(t.name + "_zero_point"))
                    r.zeroPoint = t.name + "_zero_point";
                r.groupSize = groupSize;
                info.recipes[t.name] = r;
            } else if ((t.dtype == DType::F8_E4M3 || t.dtype == DType::F8_E5M2) && endsWith(t.name, ".weight")
                && has(t.name + "_scale")) {
                info.recipes[t.name] = DequantRecipe { t.name, t.name + "_scale", {}, {}, {}, 0, 1.0 };
            }
        }
    } else if (!method.empty()) {
        info.kind = method;
        info.summary
            = method + " (quantization_config in config.json; QuantScope shows its stored tensors as they are)";
        info.details = q;
        return info;
    } else if (detectNanogptFork(info, tensors, has)) {
        // recipes, companions and details below
    } else {
        // NxD: low-precision <m>.weight with <m>.scale. AIU: int8 <m>.weight with a clip value.
        for (const auto& t : tensors) {
            if (!endsWith(t.name, ".weight")
                || !(t.dtype == DType::I8 || t.dtype == DType::F8_E4M3 || t.dtype == DType::F8_E5M2))
                continue;
            const std::string base = stem(t.name, ".weight");
            if (has(base + ".scale")) {
                info.kind = info.kind.empty() ? "nxd" : info.kind;
                info.recipes[t.name] = DequantRecipe { t.name, base + ".scale", {}, {}, {}, 0, 1.0 };
            } else if (has(base + ".quantize_weight.clip_val") && t.dtype == DType::I8) {
                info.kind = "aiu";
                DequantRecipe r { t.name, base + ".quantize_weight.clip_val", {}, {}, {}, 0, 1.0 / 127.0 };
                if (has(base + ".smoothq_scale"))
                    r.smoothScale = base + ".smoothq_scale";
                info.recipes[t.name] = r;
            }
        }
        if (info.kind == "nxd") {
            std::string dtype;
            for (const auto& [name, r] : info.recipes)
                dtype = std::string(dtypeName(byName.at(name)->dtype));
            info.summary = "AWS Neuron NxD: " + std::to_string(info.recipes.size()) + " " + dtype
                + " weights with <module>.scale";
            info.details["weight_dtype"] = dtype;
            const auto keep = readJsonOrNull(folder / "modules_to_not_convert.json");
            if (!keep.is_null() && !keep.is_discarded())
                info.details["modules_to_not_convert"] = keep;
        } else if (info.kind == "aiu") {
            info.summary = "IBM AIU (fms-mo): " + std::to_string(info.recipes.size())
                + " int8 weights with quantize_weight.clip_val";
            const auto qcfg = readJsonOrNull(folder / "qcfg.json");
            if (qcfg.is_object()) {
                info.details["qcfg"] = qcfg;
                for (const char* key : { "qw_mode", "qa_mode", "smoothq", "recompute_narrow_weights" }) {
                    if (qcfg.contains(key))
                        info.summary += std::string("; ") + key + " " + qcfg[key].dump();
                }
            }
        }
    }
    for (const auto& [name, r] : info.recipes) {
        for (const auto* companion : { &r.scale, &r.zeroPoint, &r.shape, &r.smoothScale }) {
            if (!companion->empty())
                info.companions[*companion] = name;
        }
    }
    if (info.kind == "compressed-tensors" || info.kind == "nxd" || info.kind == "aiu")
        info.details["quantized_weights"] = info.recipes.size();
    return info;
}

} // namespace qs
