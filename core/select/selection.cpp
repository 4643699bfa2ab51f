// SPDX-License-Identifier: GPL-3.0-or-later
#include "select/selection.h"

#include "error.h"
#include "model/module_tree.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>

namespace qs {
namespace {

constexpr std::array<std::pair<KeepTarget, std::string_view>, 4> kTargets { {
    { KeepTarget::Any, "any" },
    { KeepTarget::Nxd, "nxd" },
    { KeepTarget::CompressedTensors, "compressed-tensors" },
    { KeepTarget::Aiu, "aiu" },
} };

// Module names that serving stacks fuse into one layer; members must share a status.
const std::vector<std::vector<std::string>>& fusedGroups()
{
    static const std::vector<std::vector<std::string>> groups { { "q_proj", "k_proj", "v_proj" },
        { "gate_proj", "up_proj" } };
    return groups;
}

std::string listed(const std::vector<std::string>& names, std::size_t limit = 4)
{
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < limit; ++i)
        out += (i ? ", " : "") + names[i];
    if (names.size() > limit)
        out += " and " + std::to_string(names.size() - limit) + " more";
    return out;
}

} // namespace

std::string_view keepTargetName(KeepTarget target)
{
    for (const auto& [t, name] : kTargets) {
        if (t == target)
            return name;
    }
    return "?";
}

std::optional<KeepTarget> keepTargetFromName(std::string_view name)
{
    for (const auto& [t, n] : kTargets) {
        if (n == name)
            return t;
    }
    return std::nullopt;
}

std::set<int> SelectionResult::kept() const
{
    std::set<int> out;
    for (const auto& d : modules) {
        if (d.keep)
            out.insert(d.module);
    }
    return out;
}

const ModuleDecision* SelectionResult::decisionFor(int module) const
{
    const auto it = std::lower_bound(
        modules.begin(), modules.end(), module, [](const ModuleDecision& d, int m) { return d.module < m; });
    return it != modules.end() && it->module == module ? &*it : nullptr;
}

SelectionResult resolveSelection(const ModuleTree& tree, const std::vector<SelectionRule>& rules, KeepTarget target)
{
    SelectionResult result;
    result.matchCounts.assign(rules.size(), 0);
    std::vector<std::unique_ptr<RuleMatcher>> matchers(rules.size());
    for (std::size_t r = 0; r < rules.size(); ++r) {
        try {
            matchers[r] = std::make_unique<RuleMatcher>(rules[r]);
        } catch (const Error& e) {
            result.warnings.push_back({ "invalid-rule", e.reason(), static_cast<int>(r), {} });
        }
    }

    std::vector<std::vector<std::string>> insideName(rules.size()); // NxD matches inside a component
    std::vector<int> quantizable = tree.quantizable();
    std::sort(quantizable.begin(), quantizable.end());
    for (const int m : quantizable) {
        const std::string& path = tree.node(m).path;
        ModuleDecision d;
        d.module = m;
        for (std::size_t r = 0; r < rules.size(); ++r) {
            if (!matchers[r] || !matchers[r]->matches(path))
                continue;
            ++result.matchCounts[r];
            if (!matchers[r]->matchesOnBoundary(path))
                insideName[r].push_back(path);
            d.rule = static_cast<int>(r);
            d.keep = rules[r].action == RuleAction::Keep;
            d.scheme = d.keep ? std::string() : rules[r].scheme;
        }
        result.modules.push_back(std::move(d));
    }

    for (std::size_t r = 0; r < rules.size(); ++r) {
        if (!matchers[r])
            continue;
        const SelectionRule& rule = rules[r];
        if (result.matchCounts[r] == 0) {
            result.warnings.push_back({ "unmatched",
                "rule " + std::to_string(r + 1) + " (" + describeRule(rule)
                    + ") matches no quantizable (Linear) module",
                static_cast<int>(r), {} });
        }
        if (!insideName[r].empty()) {
            result.warnings.push_back({ "broad-substring",
                "rule " + std::to_string(r + 1) + ": NxD matches \"" + rule.pattern
                    + "\" as a substring, so it also catches " + std::to_string(insideName[r].size())
                    + " module(s) where it is only part of a name (" + listed(insideName[r])
                    + "); end the pattern with \".\" or name the modules to mean only \"" + rule.pattern + "\"",
                static_cast<int>(r), insideName[r] });
        }
    }

    // Fused groups: siblings of one parent that a serving stack fuses.
    std::map<int, std::vector<const ModuleDecision*>> byParent;
    for (const auto& d : result.modules)
        byParent[tree.node(d.module).parent].push_back(&d);
    for (const auto& [parent, members] : byParent) {
        for (const auto& group : fusedGroups()) {
            std::vector<const ModuleDecision*> found;
            for (const auto* d : members) {
                if (std::find(group.begin(), group.end(), tree.node(d->module).name) != group.end())
                    found.push_back(d);
            }
            if (found.size() < 2)
                continue;
            bool mixed = false;
            for (const auto* d : found)
                mixed = mixed || d->keep != found.front()->keep || d->scheme != found.front()->scheme;
            const bool partialKeep = std::any_of(found.begin(), found.end(), [](const auto* d) { return d->keep; });
            std::vector<std::string> names;
            names.reserve(found.size());
            for (const auto* d : found)
                names.push_back(tree.node(d->module).path);
            if (mixed) {
                result.warnings.push_back({ "mixed-fused-group",
                    "vLLM fuses " + listed(names, 3)
                        + " into one layer and refuses members with different quantization; keep all or none",
                    -1, names });
            }
            // NxD fuses q/k/v into qkv_proj (Neuron names them ...qkv_proj.q_proj, and its fused
            // QKV path looks for the exact entry "layers.N.self_attn"), so single projections
            // cannot be kept; only the whole attention block can.
            if (target == KeepTarget::Nxd && group.size() == 3 && partialKeep) {
                const bool wholeBlockKept
                    = std::all_of(members.begin(), members.end(), [](const auto* d) { return d->keep; });
                if (!wholeBlockKept) {
                    result.warnings.push_back({ "target-cannot-keep",
                        "NxD fuses " + listed(names, 3)
                            + " into qkv_proj and keeps them only when the whole attention block is listed; keep "
                              "all of "
                            + tree.node(parent).path + " or none of its q/k/v",
                        -1, names });
                }
            }
        }
    }
    return result;
}

std::map<std::string, QuantScheme> moduleSchemesOf(const ModuleTree& tree, const SelectionResult& result)
{
    std::map<std::string, QuantScheme> schemes;
    for (const auto& d : result.modules) {
        if (!d.keep && !d.scheme.empty()) {
            if (const auto preset = findSchemePreset(d.scheme))
                schemes[tree.node(d.module).path] = *preset;
        }
    }
    return schemes;
}

} // namespace qs
