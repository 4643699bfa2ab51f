// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// One rule of a keep-full-precision selection: how its pattern is matched (each consumer has
// its own rules), what it decides, and where it came from. Plain data, no libtorch, no Qt.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

enum class RuleSyntax
{
    Module, // this module and everything below it (what the tree's check boxes write)
    NxdPartial, // AWS Neuron NxD: the pattern is a substring of the dotted path
    CompressedTensors, // exact name, "re:" + regex matched from the start, or the class name "Linear"
    FmsMoExact, // IBM fms-mo qskip_layer_name: the exact full name
    Glob, // shell glob over the full path: * any run, ? one character
};

enum class RuleAction
{
    Keep, // keep in full precision
    Quantize, // quantize (optionally with another scheme)
};

struct SelectionRule
{
    RuleSyntax syntax = RuleSyntax::Module;
    std::string pattern;
    RuleAction action = RuleAction::Keep;
    std::string scheme; // Quantize: a preset name overriding the export's scheme; empty = default
    std::string origin; // where the rule came from: "--keep", a file name, "preset: keep lm_head", ...

    bool operator==(const SelectionRule& o) const
    {
        return syntax == o.syntax && pattern == o.pattern && action == o.action && scheme == o.scheme;
    }
};

std::string_view ruleSyntaxName(RuleSyntax syntax); // "module", "nxd", "compressed-tensors", "fms-mo", "glob"
std::optional<RuleSyntax> ruleSyntaxFromName(std::string_view name);
std::string_view ruleActionName(RuleAction action); // "keep", "quantize"
std::optional<RuleAction> ruleActionFromName(std::string_view name);

// Rules as a JSON array of {"syntax", "pattern", "action", "scheme", "origin"} (sessions, files);
// rulesFromJson throws UsageError naming what is wrong.
std::string rulesToJson(const std::vector<SelectionRule>& rules);
std::vector<SelectionRule> rulesFromJson(const std::string& json);

// One line for tables, tooltips and JSON: `keep nxd "layers.1"` (+ " (from origin)").
std::string describeRule(const SelectionRule& rule, bool withOrigin = true);

// A rule compiled for matching full module paths ("model.layers.0.mlp.up_proj"). Throws
// UsageError for an invalid regex, naming it.
class RuleMatcher
{
public:
    explicit RuleMatcher(const SelectionRule& rule);
    ~RuleMatcher();
    RuleMatcher(RuleMatcher&&) noexcept;
    RuleMatcher& operator=(RuleMatcher&&) noexcept;

    // `isLinear`: the module is a Linear (compressed-tensors' class-name entry "Linear").
    bool matches(std::string_view path, bool isLinear = true) const;

    // NxD partial names: true when some occurrence of the pattern in `path` starts and ends at a
    // component boundary ("layers.1" in "model.layers.1.mlp"), false when it only matches inside
    // a component ("layers.1" in "model.layers.10.mlp"). Always true for other syntaxes.
    bool matchesOnBoundary(std::string_view path) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace qs
