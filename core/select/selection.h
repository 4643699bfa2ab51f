// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Resolution of an ordered list of selection rules against a model: which quantizable modules
// stay in full precision, which rule decided each one, and what looks wrong.
#include "quant/quant_scheme.h"
#include "select/selection_rule.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace qs {

class ModuleTree;

// The format the selection is meant for; it adds that format's own warnings.
enum class KeepTarget
{
    Any,
    Nxd, // AWS Neuron NxD
    CompressedTensors, // vLLM
    Aiu, // IBM AIU (fms-mo)
};

std::string_view keepTargetName(KeepTarget target); // "any", "nxd", "compressed-tensors", "aiu"
std::optional<KeepTarget> keepTargetFromName(std::string_view name);

struct ModuleDecision
{
    int module = -1; // ModuleTree index of a quantizable (Linear) module
    bool keep = false;
    int rule = -1; // the deciding rule (the last one that matches), -1: the default (quantize)
    std::string scheme; // a Quantize rule's scheme override, if any
};

struct SelectionWarning
{
    std::string kind; // "unmatched", "broad-substring", "mixed-fused-group", "target-cannot-keep", "invalid-rule"
    std::string message;
    int rule = -1; // the rule concerned, if one
    std::vector<std::string> modules; // the modules concerned (full paths)
};

struct SelectionResult
{
    std::vector<ModuleDecision> modules; // every quantizable module, in tree order
    std::vector<int> matchCounts; // per rule: quantizable modules it matches (deciding or not)
    std::vector<SelectionWarning> warnings;

    std::set<int> kept() const;
    const ModuleDecision* decisionFor(int module) const;
};

// Rules apply in order and the last matching rule decides, so later rules refine earlier ones
// ("keep layers.0", then "quantize layers.0.mlp.up_proj"). Modules no rule matches are
// quantized. Warnings: a rule that matches no quantizable module; an NxD substring rule that
// also matches inside a name ("layers.1" catching layers.10-19); fused groups (q/k/v,
// gate/up) whose members disagree, which vLLM refuses; and a kept module the target format
// cannot keep (NxD: one of q/k/v without the whole self_attn, which Neuron fuses).
// A rule with an invalid regex matches nothing and is reported, not thrown.
SelectionResult resolveSelection(
    const ModuleTree& tree, const std::vector<SelectionRule>& rules, KeepTarget target = KeepTarget::Any);

// Quantized modules whose deciding rule names a scheme preset of their own ("quantize PRESET"):
// full path -> that preset's scheme.
std::map<std::string, QuantScheme> moduleSchemesOf(const ModuleTree& tree, const SelectionResult& result);

} // namespace qs
