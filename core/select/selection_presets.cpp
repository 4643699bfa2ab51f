// SPDX-License-Identifier: GPL-3.0-or-later
#include "select/selection_presets.h"

#include "error.h"
#include "model/module_tree.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace qs {
namespace {

SelectionRule moduleRule(const std::string& path, const std::string& origin)
{
    return { RuleSyntax::Module, path, RuleAction::Keep, {}, origin };
}

bool isNumber(const std::string& s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool isAttentionName(const std::string& name)
{
    return name == "self_attn" || name == "attn" || name == "attention" || name == "self_attention"
        || name == "cross_attn";
}

bool isMlpName(const std::string& name)
{
    return name == "mlp" || name == "feed_forward" || name == "ffn" || name == "block_sparse_moe";
}

} // namespace

std::vector<int> decoderLayers(const ModuleTree& tree)
{
    std::vector<int> layers;
    for (int i = 0; i < tree.size(); ++i) {
        const ModuleNode& n = tree.node(i);
        if (n.parent < 0 || !isNumber(n.name) || n.quantizableCount == 0)
            continue;
        const std::string& parent = tree.node(n.parent).name;
        if (parent == "layers" || parent == "h" || parent == "layer" || parent == "blocks")
            layers.push_back(i);
    }
    // Natural order: by the number (children are in natural order already, but layers may sit
    // under several stacks, e.g. an encoder and a decoder).
    std::stable_sort(layers.begin(), layers.end(), [&](int a, int b) {
        if (tree.node(a).parent != tree.node(b).parent)
            return tree.node(a).parent < tree.node(b).parent;
        return std::stoll(tree.node(a).name) < std::stoll(tree.node(b).name);
    });
    return layers;
}

std::vector<SelectionRule> keepLmHeadPreset(const ModuleTree& tree)
{
    std::vector<SelectionRule> rules;
    for (const int m : tree.quantizable()) {
        const std::string& name = tree.node(m).name;
        if (name == "lm_head" || name == "embed_out" || name == "output")
            rules.push_back(moduleRule(tree.node(m).path, "preset: keep lm_head"));
    }
    return rules;
}

std::vector<SelectionRule> keepEmbeddingsPreset(const ModuleTree& tree)
{
    std::vector<SelectionRule> rules;
    for (int i = 0; i < tree.size(); ++i) {
        if (tree.node(i).kind == ModuleKind::Embedding)
            rules.push_back(moduleRule(tree.node(i).path, "preset: keep embeddings"));
    }
    return rules;
}

std::vector<SelectionRule> keepAttentionPreset(const ModuleTree& tree)
{
    std::vector<SelectionRule> rules;
    for (int i = 0; i < tree.size(); ++i) {
        const ModuleNode& n = tree.node(i);
        if (n.quantizableCount > 0 && isAttentionName(n.name))
            rules.push_back(moduleRule(n.path, "preset: keep attention"));
    }
    return rules;
}

std::vector<SelectionRule> keepEdgeMlpsPreset(const ModuleTree& tree, int n)
{
    const std::vector<int> layers = decoderLayers(tree);
    std::vector<SelectionRule> rules;
    const std::string origin = "preset: keep the MLPs of the first and last " + std::to_string(n) + " layers";
    for (std::size_t i = 0; i < layers.size(); ++i) {
        if (static_cast<int>(i) >= n && static_cast<int>(layers.size() - i) > n)
            continue;
        for (const int c : tree.node(layers[i]).children) {
            if (isMlpName(tree.node(c).name) && tree.node(c).quantizableCount > 0)
                rules.push_back(moduleRule(tree.node(c).path, origin));
        }
    }
    return rules;
}

std::vector<SelectionRule> keepWorstPreset(
    const ModuleTree& tree, const std::map<int, double>& sqnrDb, double sqnrBelowDb, int worst)
{
    std::vector<std::pair<double, int>> ranked;
    ranked.reserve(sqnrDb.size());
    for (const auto& [m, db] : sqnrDb)
        ranked.emplace_back(db, m);
    std::sort(ranked.begin(), ranked.end());
    std::vector<SelectionRule> rules;
    for (std::size_t i = 0; i < ranked.size(); ++i) {
        const auto [db, m] = ranked[i];
        const bool below = !std::isnan(sqnrBelowDb) && db < sqnrBelowDb;
        const bool inWorst = std::isnan(sqnrBelowDb) && static_cast<int>(i) < worst;
        if (!below && !inWorst)
            continue;
        char text[64];
        std::snprintf(text, sizeof text, "%.1f", db);
        rules.push_back(moduleRule(tree.node(m).path, "preset: worst error, SQNR " + std::string(text) + " dB"));
    }
    return rules;
}

std::vector<SelectionRule> selectionPreset(const ModuleTree& tree, const std::string& spec)
{
    if (spec == "lm-head")
        return keepLmHeadPreset(tree);
    if (spec == "embeddings")
        return keepEmbeddingsPreset(tree);
    if (spec == "attention")
        return keepAttentionPreset(tree);
    if (spec.rfind("edge-mlps", 0) == 0) {
        int n = 1;
        if (spec.size() > 9) {
            if (spec[9] != ':' || !isNumber(spec.substr(10)))
                throw UsageError("preset '" + spec + "': write edge-mlps:N with N a number of layers");
            n = std::stoi(spec.substr(10));
        }
        return keepEdgeMlpsPreset(tree, n);
    }
    throw UsageError("unknown preset '" + spec + "'; presets: lm-head, embeddings, attention, edge-mlps:N");
}

} // namespace qs
