// SPDX-License-Identifier: GPL-3.0-or-later
#include "select/recipe.h"

#include "error.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace qs {
namespace {

[[noreturn]] void bad(const std::string& source, const std::string& reason)
{
    throw UsageError(reason, ErrorContext { source, {}, {} });
}

// Every "<Name>Modifier: {...}" in the document, in order, however deeply staged.
void collect(const YAML::Node& node, std::vector<std::pair<std::string, YAML::Node>>& out)
{
    if (node.IsMap()) {
        for (const auto& kv : node) {
            const std::string key = kv.first.as<std::string>("");
            if (key.size() > 8 && key.compare(key.size() - 8, 8, "Modifier") == 0)
                out.emplace_back(key, kv.second);
            else
                collect(kv.second, out);
        }
    } else if (node.IsSequence()) {
        for (const auto& item : node)
            collect(item, out);
    }
}

std::vector<std::string> strings(const YAML::Node& n, const std::string& source, const std::string& what)
{
    std::vector<std::string> out;
    if (!n || n.IsNull())
        return out;
    if (n.IsScalar())
        return { n.as<std::string>() };
    if (!n.IsSequence())
        bad(source, what + " must be a string or a list of strings");
    for (const auto& item : n) {
        if (!item.IsScalar())
            bad(source, what + " holds an entry that is not a string");
        out.push_back(item.as<std::string>());
    }
    return out;
}

void checkArguments(const std::string& modifier, const YAML::Node& args, const std::set<std::string>& known,
    const std::string& source)
{
    if (!args || args.IsNull())
        return;
    if (!args.IsMap())
        bad(source, modifier + "'s arguments must be a mapping");
    for (const auto& kv : args) {
        const std::string key = kv.first.as<std::string>("");
        if (!known.count(key))
            bad(source, modifier + ": argument '" + key + "' is not one QuantScope implements");
    }
}

// llm-compressor's scheme presets that QuantScope writes.
QuantScheme presetScheme(const std::string& name, const std::string& source)
{
    static const std::map<std::string, std::string> presets = { { "W8A8", "vllm-w8a8-int8" },
        { "INT8", "vllm-w8a8-int8" }, { "W4A16", "vllm-w4a16" }, { "W8A16", "vllm-w8a16" },
        { "FP8_DYNAMIC", "vllm-fp8-dynamic" } };
    if (name == "W4A16_ASYM") { // int4 groups of 128 with zero points (llm-compressor's AWQ example)
        QuantScheme s = *findSchemePreset("vllm-w4a16");
        s.name = "W4A16_ASYM";
        s.symmetric = false;
        s.validate();
        return s;
    }
    const auto it = presets.find(name);
    if (it == presets.end())
        bad(source, "scheme '" + name
                + "' has no QuantScope preset; recipes may name W8A8, INT8, W4A16, W4A16_ASYM, W8A16, FP8_DYNAMIC");
    return *findSchemePreset(it->second);
}

// A single config group's QuantizationArgs as a scheme.
QuantScheme groupScheme(const YAML::Node& groups, const std::string& source)
{
    if (!groups.IsMap() || groups.size() != 1)
        bad(source, "config_groups: QuantScope runs one config group");
    const YAML::Node g = groups.begin()->second;
    for (const auto& t : strings(g["targets"], source, "config_groups targets")) {
        if (t != "Linear")
            bad(source, "config_groups targets '" + t + "': QuantScope quantizes Linear modules");
    }
    const YAML::Node w = g["weights"];
    if (!w || !w.IsMap())
        bad(source, "config_groups: the group has no weights");
    const YAML::Node a = g["input_activations"];
    const bool fp8 = w["type"].as<std::string>("int") == "float";
    const bool activations = a && a.IsMap();
    QuantScheme s = *findSchemePreset(fp8 ? "vllm-fp8-dynamic"
            : activations                 ? "vllm-w8a8-int8"
            : w["num_bits"].as<int>(8) == 4 ? "vllm-w4a16"
                                           : "vllm-w8a16");
    s.name = "recipe config group";
    s.bits = w["num_bits"].as<int>(8);
    s.symmetric = w["symmetric"].as<bool>(true);
    const std::string strategy = w["strategy"].as<std::string>("channel");
    const auto granularity = granularityFromName(strategy);
    if (!granularity || *granularity == Granularity::Token)
        bad(source, "config_groups weights strategy '" + strategy + "': tensor, channel or group");
    s.granularity = *granularity;
    s.groupSize = s.granularity == Granularity::Group ? w["group_size"].as<int>(128) : 0;
    s.activations = "none";
    if (activations) {
        const bool isDynamic = a["dynamic"].as<bool>(true);
        const std::string kind = a["type"].as<std::string>("int") == "float" ? "fp8" : "int8";
        const std::string as = a["strategy"].as<std::string>(isDynamic ? "token" : "tensor");
        if ((isDynamic && as != "token") || (!isDynamic && as != "tensor"))
            bad(source, "config_groups input_activations: dynamic per token or static per tensor");
        s.activations = kind + (isDynamic ? "-token-dynamic" : "-tensor-static");
    }
    s.validate();
    return s;
}

std::vector<SmoothQuantMapping> mappingsOf(const YAML::Node& n, const std::string& source)
{
    std::vector<SmoothQuantMapping> out;
    if (!n || n.IsNull())
        return out;
    if (!n.IsSequence())
        bad(source, "SmoothQuantModifier mappings must be a list of [balance layers, smooth layer]");
    for (const auto& m : n) {
        if (!m.IsSequence() || m.size() != 2)
            bad(source, "a SmoothQuantModifier mapping is [[balance layers], smooth layer]");
        out.push_back({ strings(m[0], source, "a mapping's balance layers"), m[1].as<std::string>("") });
    }
    return out;
}

// AWQModifier mappings: [{smooth_layer: ..., balance_layers: [...]}, ...].
std::vector<SmoothQuantMapping> awqMappingsOf(const YAML::Node& n, const std::string& source)
{
    std::vector<SmoothQuantMapping> out;
    if (!n || n.IsNull())
        return out;
    if (!n.IsSequence())
        bad(source, "AWQModifier mappings must be a list of {smooth_layer, balance_layers}");
    for (const auto& m : n) {
        if (!m.IsMap() || !m["smooth_layer"] || !m["balance_layers"])
            bad(source, "an AWQModifier mapping is {smooth_layer: ..., balance_layers: [...]}");
        for (const auto& key : m) {
            const std::string k = key.first.as<std::string>("");
            if (k != "smooth_layer" && k != "balance_layers" && k != "activation_hook_target")
                bad(source, "an AWQModifier mapping's " + k + " is not implemented (smooth_layer, balance_layers)");
            if (k == "activation_hook_target")
                bad(source, "an AWQModifier mapping's activation_hook_target is not implemented");
        }
        out.push_back({ strings(m["balance_layers"], source, "an AWQ mapping's balance layers"),
            m["smooth_layer"].as<std::string>("") });
    }
    return out;
}

void readAwqModifier(const YAML::Node& args, const std::string& source, AlgorithmSettings& a)
{
    checkArguments("AWQModifier", args,
        { "mappings", "ignore", "duo_scaling", "n_grid", "offload_device", "targets", "scheme", "config_groups" },
        source);
    a.awq = true;
    a.awqMappings = awqMappingsOf(args["mappings"], source);
    a.awqIgnore = strings(args["ignore"], source, "AWQModifier ignore");
    std::string duo = args["duo_scaling"].as<std::string>("true");
    for (char& ch : duo)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (duo != "true" && duo != "false" && duo != "both")
        bad(source, "AWQModifier duo_scaling '" + duo + "': true, false or both");
    a.awqDuoScaling = duo;
    a.awqGrid = args["n_grid"].as<int>(20);
    if (a.awqGrid < 2)
        bad(source, "AWQModifier n_grid must be at least 2");
}

// SpinQuantModifier as llm-compressor runs it (fixed rotations fused into the weights), or learned.
void readSpinQuantModifier(const YAML::Node& args, const std::string& source, AlgorithmSettings& a)
{
    checkArguments("SpinQuantModifier", args,
        { "rotations", "transform_type", "randomize", "learnable", "precision", "transform_block_size" }, source);
    // learnable: true is SpinQuant proper (llm-compressor raises NotImplementedError on it):
    // QuantScope learns R1 and R2 with its default steps and learning rate.
    a.spinQuant = args && args.IsMap() && args["learnable"].as<bool>(false);
    if (args && args.IsMap() && args["transform_block_size"] && !args["transform_block_size"].IsNull())
        bad(source, "SpinQuantModifier transform_block_size (block-diagonal rotations) is not implemented");
    const std::vector<std::string> rotations
        = args && args.IsMap() && args["rotations"] ? strings(args["rotations"], source, "SpinQuantModifier rotations")
                                                    : std::vector<std::string> { "R1", "R2" };
    bool r1 = false;
    a.rotationR2 = false;
    for (const std::string& r : rotations) {
        if (r == "R1")
            r1 = true;
        else if (r == "R2")
            a.rotationR2 = true;
        else
            bad(source, "SpinQuantModifier rotation " + r + " (an online rotation) is not implemented; R1 and R2 are");
    }
    if (!r1)
        bad(source, "SpinQuantModifier without R1 is not implemented");
    const std::string type = args && args.IsMap() ? args["transform_type"].as<std::string>("hadamard") : "hadamard";
    if (type == "hadamard" || type == "random-hadamard")
        a.rotation = "hadamard";
    else if (type == "random-matrix")
        a.rotation = "random";
    else
        bad(source, "SpinQuantModifier transform_type '" + type + "': hadamard, random-hadamard or random-matrix");
}

} // namespace

Recipe parseRecipe(const std::string& text, const std::string& source)
{
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        bad(source, std::string("invalid YAML: ") + e.what());
    }
    std::vector<std::pair<std::string, YAML::Node>> modifiers;
    collect(root, modifiers);
    if (modifiers.empty())
        bad(source, "the recipe has no modifiers");
    Recipe r;
    bool quantizing = false;
    for (const auto& [name, args] : modifiers) {
        r.modifiers.push_back(name);
        if (name == "SmoothQuantModifier") {
            checkArguments(name, args, { "smoothing_strength", "mappings", "ignore", "num_calibration_steps" }, source);
            r.algorithms.smoothQuant = args["smoothing_strength"].as<double>(0.5);
            r.algorithms.smoothQuantMappings = mappingsOf(args["mappings"], source);
            r.algorithms.smoothQuantIgnore = strings(args["ignore"], source, "SmoothQuantModifier ignore");
            continue;
        }
        if (name == "SpinQuantModifier") {
            readSpinQuantModifier(args, source, r.algorithms);
            continue;
        }
        if (name == "AWQModifier") {
            readAwqModifier(args, source, r.algorithms);
            // Before llm-compressor 0.13 AWQModifier also carried the scheme (then it quantizes too).
            if (!args || !args.IsMap() || (!args["scheme"] && !args["config_groups"]))
                continue;
        } else if (name != "GPTQModifier" && name != "QuantizationModifier")
            bad(source, "the recipe's " + name
                    + " is not implemented; QuantScope runs SpinQuantModifier, SmoothQuantModifier, AWQModifier, "
                      "GPTQModifier and QuantizationModifier");
        if (quantizing)
            bad(source, "the recipe has more than one quantizing modifier (GPTQModifier, QuantizationModifier)");
        quantizing = true;
        std::set<std::string> known = { "targets", "scheme", "ignore", "config_groups" };
        if (name == "GPTQModifier")
            known.insert({ "block_size", "dampening_frac", "actorder", "offload_hessians" });
        if (name == "AWQModifier")
            known.insert({ "mappings", "duo_scaling", "n_grid", "offload_device" });
        checkArguments(name, args, known, source);
        for (const auto& t : strings(args["targets"], source, name + " targets")) {
            if (t != "Linear")
                bad(source, name + " targets '" + t + "': QuantScope quantizes Linear modules");
        }
        if (args["scheme"] && args["config_groups"])
            bad(source, name + " names both a scheme and config_groups");
        if (args["scheme"])
            r.scheme = presetScheme(args["scheme"].as<std::string>(""), source);
        else if (args["config_groups"])
            r.scheme = groupScheme(args["config_groups"], source);
        for (const auto& p : strings(args["ignore"], source, name + " ignore"))
            r.keep.push_back({ RuleSyntax::CompressedTensors, p, RuleAction::Keep, {}, source });
        if (name == "GPTQModifier") {
            r.algorithms.gptq = true;
            r.algorithms.gptqBlockSize = args["block_size"].as<int>(128);
            r.algorithms.gptqDampening = args["dampening_frac"].as<double>(0.01);
            const YAML::Node a = args["actorder"];
            const std::string order = !a ? "static" : a.IsNull() ? "none" : a.as<std::string>("");
            r.algorithms.gptqActOrder = order == "weight" ? "static" : order == "dynamic" ? "group" : order;
            if (r.algorithms.gptqActOrder != "static" && r.algorithms.gptqActOrder != "group"
                && r.algorithms.gptqActOrder != "none")
                bad(source, "GPTQModifier actorder '" + order + "': static, weight, group, dynamic or none");
        }
    }
    if (r.algorithms.awq && r.algorithms.smoothQuant)
        bad(source, "the recipe has both SmoothQuantModifier and AWQModifier, which both rescale the balance layers");
    return r;
}

Recipe readRecipe(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw IoError("cannot read the recipe", ErrorContext { file.string(), {}, {} });
    std::stringstream text;
    text << in.rdbuf();
    return parseRecipe(text.str(), file.string());
}

} // namespace qs
