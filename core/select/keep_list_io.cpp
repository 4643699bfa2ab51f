// SPDX-License-Identifier: GPL-3.0-or-later
#include "select/keep_list_io.h"

#include "error.h"
#include "model/module_tree.h"
#include "select/nxd_keep_list.h"
#include "select/selection.h"

#include <nlohmann/json.hpp>

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace qs {
namespace {

using json = nlohmann::ordered_json;

[[noreturn]] void bad(const std::string& source, const std::string& reason)
{
    throw FormatError(reason, ErrorContext { source, {}, {} });
}

std::vector<SelectionRule> rulesFrom(
    const json& list, RuleSyntax syntax, const std::string& source, const std::string& where)
{
    if (!list.is_array())
        bad(source, where + " must be a list of module names");
    std::vector<SelectionRule> rules;
    for (const auto& item : list) {
        if (!item.is_string())
            bad(source, where + " holds a non-string entry: " + item.dump());
        rules.push_back({ syntax, item.get<std::string>(), RuleAction::Keep, {}, source });
    }
    return rules;
}

KeepList fromJson(const json& j, const std::string& source)
{
    KeepList out;
    if (j.is_array()) { // a bare list of NxD names
        out.format = KeepListFormat::NxdJson;
        out.rules = rulesFrom(j, RuleSyntax::NxdPartial, source, "the list");
        return out;
    }
    if (!j.is_object())
        bad(source, "expected a JSON object or list");
    // NxD inference_demo: "model" takes precedence over a top-level list.
    if (j.contains("model") || j.contains("modules_to_not_convert")) {
        out.format = KeepListFormat::NxdJson;
        if (j.contains("model")) {
            if (!j["model"].is_object() || !j["model"].contains("modules_to_not_convert"))
                bad(source, "\"model\" must hold \"modules_to_not_convert\" (NxD raises a KeyError otherwise)");
            out.rules = rulesFrom(
                j["model"]["modules_to_not_convert"], RuleSyntax::NxdPartial, source, "model.modules_to_not_convert");
        } else {
            out.rules
                = rulesFrom(j["modules_to_not_convert"], RuleSyntax::NxdPartial, source, "modules_to_not_convert");
        }
        if (j.contains("draft_model")) {
            if (!j["draft_model"].is_object() || !j["draft_model"].contains("modules_to_not_convert"))
                bad(source, "\"draft_model\" must hold \"modules_to_not_convert\"");
            out.draftRules = rulesFrom(j["draft_model"]["modules_to_not_convert"], RuleSyntax::NxdPartial, source,
                "draft_model.modules_to_not_convert");
        }
        return out;
    }
    if (j.contains("quantization_config") || j.contains("ignore")) {
        out.format = KeepListFormat::CompressedTensorsConfig;
        const json& q = j.contains("quantization_config") ? j["quantization_config"] : j;
        if (!q.is_object())
            bad(source, "quantization_config must be an object");
        if (q.contains("ignore") && !q["ignore"].is_null())
            out.rules = rulesFrom(q["ignore"], RuleSyntax::CompressedTensors, source, "quantization_config.ignore");
        return out;
    }
    if (j.contains("qskip_layer_name")) {
        out.format = KeepListFormat::FmsMoQcfg;
        out.rules = rulesFrom(j["qskip_layer_name"], RuleSyntax::FmsMoExact, source, "qskip_layer_name");
        return out;
    }
    bad(source,
        "no keep list found: expected modules_to_not_convert (NxD), quantization_config.ignore "
        "(compressed-tensors) or qskip_layer_name (fms-mo)");
}

// Finds every QuantizationModifier / GPTQModifier map in a recipe, however deeply staged.
void collectModifiers(const YAML::Node& node, std::vector<YAML::Node>& out)
{
    if (node.IsMap()) {
        for (const auto& kv : node) {
            const std::string key = kv.first.as<std::string>("");
            if ((key == "QuantizationModifier" || key == "GPTQModifier") && kv.second.IsMap())
                out.push_back(kv.second);
            else
                collectModifiers(kv.second, out);
        }
    } else if (node.IsSequence()) {
        for (const auto& item : node)
            collectModifiers(item, out);
    }
}

KeepList fromRecipe(const YAML::Node& root, const std::string& source)
{
    std::vector<YAML::Node> modifiers;
    collectModifiers(root, modifiers);
    if (modifiers.empty())
        bad(source, "the recipe has no QuantizationModifier or GPTQModifier");
    KeepList out;
    out.format = KeepListFormat::Recipe;
    for (const auto& m : modifiers) {
        const YAML::Node ignore = m["ignore"];
        if (ignore && !ignore.IsNull()) {
            if (!ignore.IsSequence())
                bad(source, "a modifier's ignore must be a list");
            for (const auto& item : ignore) {
                if (!item.IsScalar())
                    bad(source, "a modifier's ignore holds a non-string entry");
                out.rules.push_back(
                    { RuleSyntax::CompressedTensors, item.as<std::string>(), RuleAction::Keep, {}, source });
            }
        }
        if (const YAML::Node scheme = m["scheme"]; scheme && scheme.IsScalar())
            out.notes.push_back("scheme " + scheme.as<std::string>());
        if (const YAML::Node groups = m["config_groups"]; groups && groups.IsMap()) {
            for (const auto& g : groups) {
                std::string targets;
                for (const auto& t : g.second["targets"])
                    targets += (targets.empty() ? "" : ", ") + t.as<std::string>("");
                out.notes.push_back("config group " + g.first.as<std::string>("") + " targets " + targets);
            }
        }
    }
    return out;
}

} // namespace

std::string_view keepListFormatName(KeepListFormat format)
{
    switch (format) {
    case KeepListFormat::NxdJson:
        return "nxd-json";
    case KeepListFormat::CompressedTensorsConfig:
        return "ct-config";
    case KeepListFormat::Recipe:
        return "recipe";
    case KeepListFormat::FmsMoQcfg:
        return "fms-mo";
    case KeepListFormat::Text:
        break;
    }
    return "text";
}

KeepList parseKeepList(const std::string& text, const std::string& source)
{
    std::size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && (text[first] == '{' || text[first] == '[')) {
        json j;
        try {
            j = json::parse(text);
        } catch (const json::parse_error& e) {
            bad(source, std::string("invalid JSON: ") + e.what());
        }
        return fromJson(j, source);
    }
    if (text.find("Modifier") != std::string::npos) {
        YAML::Node root;
        try {
            root = YAML::Load(text);
        } catch (const YAML::Exception& e) {
            bad(source, std::string("invalid YAML: ") + e.what());
        }
        return fromRecipe(root, source);
    }
    // One name per line. NxD partial names are what people write in such lists.
    KeepList out;
    out.format = KeepListFormat::Text;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (const auto hash = line.find('#'); hash != std::string::npos)
            line.erase(hash);
        const auto b = line.find_first_not_of(" \t\r");
        const auto e = line.find_last_not_of(" \t\r,\"'");
        if (b == std::string::npos || e < b)
            continue;
        std::string name = line.substr(b, e - b + 1);
        if (!name.empty() && (name.front() == '"' || name.front() == '\''))
            name.erase(0, 1);
        if (!name.empty())
            out.rules.push_back({ RuleSyntax::NxdPartial, name, RuleAction::Keep, {}, source });
    }
    return out;
}

KeepList readKeepList(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw IoError("cannot read the keep list", ErrorContext { path.string(), {}, {} });
    std::ostringstream text;
    text << in.rdbuf();
    return parseKeepList(text.str(), path.filename().string());
}

std::string writeNxdKeepJson(
    const std::vector<std::string>& names, NxdJsonShape shape, const std::vector<std::string>& draftNames)
{
    json list = json::array();
    for (const auto& n : names)
        list.push_back(n);
    json out;
    switch (shape) {
    case NxdJsonShape::Flat:
        out["modules_to_not_convert"] = list;
        break;
    case NxdJsonShape::UnderModel:
        out["model"]["modules_to_not_convert"] = list;
        break;
    case NxdJsonShape::WithDraft: {
        out["model"]["modules_to_not_convert"] = list;
        json draft = json::array();
        for (const auto& n : draftNames)
            draft.push_back(n);
        out["draft_model"]["modules_to_not_convert"] = draft;
        break;
    }
    }
    return out.dump(4) + "\n";
}

std::vector<std::string> fullKeepNames(const ModuleTree& tree, const std::set<int>& kept)
{
    std::vector<std::string> names;
    for (const int m : tree.quantizable()) {
        if (kept.count(m))
            names.push_back(tree.node(m).path);
    }
    return names;
}

std::vector<std::string> nxdKeepNames(
    const ModuleTree& tree, const std::set<int>& kept, const std::vector<SelectionRule>& rules)
{
    bool allNxdKeeps = !rules.empty();
    std::vector<std::string> patterns;
    for (const auto& r : rules) {
        // Neuron's own module names lack the leading "model.", so such a pattern would never
        // match on the device even though it matches the checkpoint's names here.
        allNxdKeeps = allNxdKeeps && r.syntax == RuleSyntax::NxdPartial && r.action == RuleAction::Keep
            && r.pattern.rfind("model.", 0) != 0;
        patterns.push_back(r.pattern);
    }
    if (allNxdKeeps && resolveNxdKeepList(tree, patterns).kept == kept)
        return patterns;
    return compactNxdKeepList(tree, kept);
}

std::string writeFmsMoQcfg(const std::vector<std::string>& names)
{
    json out;
    out["qskip_layer_name"] = names;
    return out.dump(4) + "\n";
}

std::string writeTextList(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& n : names)
        out += n + "\n";
    return out;
}

std::string writeRecipeYaml(const std::vector<std::string>& names, const std::string& weights,
    const std::string& activations, const AlgorithmSettings& algorithms)
{
    return writeRecipeYaml(names, std::vector<RecipeGroup> { { { "Linear" }, weights, activations } }, algorithms);
}

std::string writeRecipeYaml(
    const std::vector<std::string>& names, const std::vector<RecipeGroup>& groups, const AlgorithmSettings& algorithms)
{
    YAML::Emitter y;
    y.SetDoublePrecision(10); // 0.8, not 0.80000000000000004
    y << YAML::BeginMap << YAML::Key << "quant_stage" << YAML::Value << YAML::BeginMap << YAML::Key << "quant_modifiers"
      << YAML::Value << YAML::BeginMap;
    if (!algorithms.rotation.empty()) {
        y << YAML::Key << "SpinQuantModifier" << YAML::Value << YAML::BeginMap << YAML::Key << "rotations"
          << YAML::Value << YAML::Flow << YAML::BeginSeq << "R1";
        if (algorithms.rotationR2)
            y << "R2";
        y << YAML::EndSeq << YAML::Key << "transform_type" << YAML::Value
          << (algorithms.rotation == "random" ? "random-matrix" : "hadamard") << YAML::Key << "randomize"
          << YAML::Value << true;
        if (algorithms.spinQuant) // the weights carry the learned rotation; llm-compressor cannot learn one
            y << YAML::Key << "learnable" << YAML::Value << true;
        y << YAML::EndMap;
    }
    if (algorithms.smoothQuant) {
        y << YAML::Key << "SmoothQuantModifier" << YAML::Value << YAML::BeginMap << YAML::Key << "smoothing_strength"
          << YAML::Value << *algorithms.smoothQuant;
        if (!algorithms.smoothQuantMappings.empty()) {
            y << YAML::Key << "mappings" << YAML::Value << YAML::BeginSeq;
            for (const SmoothQuantMapping& m : algorithms.smoothQuantMappings) {
                y << YAML::Flow << YAML::BeginSeq << YAML::Flow << YAML::BeginSeq;
                for (const auto& b : m.balance)
                    y << YAML::DoubleQuoted << b;
                y << YAML::EndSeq << YAML::DoubleQuoted << m.smooth << YAML::EndSeq;
            }
            y << YAML::EndSeq;
        }
        if (!algorithms.smoothQuantIgnore.empty()) {
            y << YAML::Key << "ignore" << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (const auto& n : algorithms.smoothQuantIgnore)
                y << YAML::DoubleQuoted << n;
            y << YAML::EndSeq;
        }
        y << YAML::EndMap;
    }
    if (algorithms.awq) {
        y << YAML::Key << "AWQModifier" << YAML::Value << YAML::BeginMap;
        if (!algorithms.awqMappings.empty()) {
            y << YAML::Key << "mappings" << YAML::Value << YAML::BeginSeq;
            for (const SmoothQuantMapping& m : algorithms.awqMappings) {
                y << YAML::Flow << YAML::BeginMap << YAML::Key << "smooth_layer" << YAML::Value << YAML::DoubleQuoted
                  << m.smooth << YAML::Key << "balance_layers" << YAML::Value << YAML::Flow << YAML::BeginSeq;
                for (const auto& b : m.balance)
                    y << YAML::DoubleQuoted << b;
                y << YAML::EndSeq << YAML::EndMap;
            }
            y << YAML::EndSeq;
        }
        if (!algorithms.awqIgnore.empty()) {
            y << YAML::Key << "ignore" << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (const auto& n : algorithms.awqIgnore)
                y << YAML::DoubleQuoted << n;
            y << YAML::EndSeq;
        }
        y << YAML::Key << "duo_scaling" << YAML::Value;
        if (algorithms.awqDuoScaling == "both")
            y << "both";
        else
            y << (algorithms.awqDuoScaling == "true");
        y << YAML::Key << "n_grid" << YAML::Value << algorithms.awqGrid << YAML::EndMap;
    }
    y << YAML::Key << (algorithms.gptq ? "GPTQModifier" : "QuantizationModifier") << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "ignore" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& n : names)
        y << YAML::DoubleQuoted << n;
    y << YAML::EndSeq;
    if (algorithms.gptq) {
        y << YAML::Key << "block_size" << YAML::Value << algorithms.gptqBlockSize;
        y << YAML::Key << "dampening_frac" << YAML::Value << algorithms.gptqDampening;
        y << YAML::Key << "actorder" << YAML::Value << algorithms.gptqActOrder;
    }
    y << YAML::Key << "config_groups" << YAML::Value << YAML::BeginMap;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        y << YAML::Key << "group_" + std::to_string(g) << YAML::Value << YAML::BeginMap << YAML::Key << "targets"
          << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& t : groups[g].targets)
            y << (t == "Linear" ? YAML::Auto : YAML::DoubleQuoted) << t;
        y << YAML::EndSeq;
        if (!groups[g].weights.empty())
            y << YAML::Key << "weights" << YAML::Value << YAML::Load(groups[g].weights);
        if (!groups[g].activations.empty())
            y << YAML::Key << "input_activations" << YAML::Value << YAML::Load(groups[g].activations);
        y << YAML::EndMap;
    }
    y << YAML::EndMap << YAML::EndMap << YAML::EndMap << YAML::EndMap << YAML::EndMap;
    return std::string(y.c_str()) + "\n";
}

} // namespace qs
