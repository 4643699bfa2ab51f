// SPDX-License-Identifier: GPL-3.0-or-later
#include "select/selection_rule.h"

#include "error.h"

#include <nlohmann/json.hpp>

#include <array>
#include <regex>
#include <utility>

namespace qs {
namespace {

constexpr std::array<std::pair<RuleSyntax, std::string_view>, 5> kSyntaxes { {
    { RuleSyntax::Module, "module" },
    { RuleSyntax::NxdPartial, "nxd" },
    { RuleSyntax::CompressedTensors, "compressed-tensors" },
    { RuleSyntax::FmsMoExact, "fms-mo" },
    { RuleSyntax::Glob, "glob" },
} };

std::string globToRegex(std::string_view glob)
{
    std::string re;
    for (const char c : glob) {
        if (c == '*')
            re += ".*";
        else if (c == '?')
            re += '.';
        else if (std::string_view("\\^$.|+()[]{}").find(c) != std::string_view::npos)
            re += std::string("\\") + c;
        else
            re += c;
    }
    return re;
}

bool boundaryBefore(std::string_view path, std::size_t at)
{
    return at == 0 || path[at - 1] == '.';
}

bool boundaryAfter(std::string_view path, std::size_t end)
{
    return end == path.size() || path[end] == '.';
}

} // namespace

std::string_view ruleSyntaxName(RuleSyntax syntax)
{
    for (const auto& [s, name] : kSyntaxes) {
        if (s == syntax)
            return name;
    }
    return "?";
}

std::optional<RuleSyntax> ruleSyntaxFromName(std::string_view name)
{
    for (const auto& [s, n] : kSyntaxes) {
        if (n == name)
            return s;
    }
    return std::nullopt;
}

std::string_view ruleActionName(RuleAction action)
{
    return action == RuleAction::Keep ? "keep" : "quantize";
}

std::optional<RuleAction> ruleActionFromName(std::string_view name)
{
    if (name == "keep")
        return RuleAction::Keep;
    if (name == "quantize")
        return RuleAction::Quantize;
    return std::nullopt;
}

std::string rulesToJson(const std::vector<SelectionRule>& rules)
{
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& r : rules) {
        nlohmann::ordered_json o;
        o["syntax"] = ruleSyntaxName(r.syntax);
        o["pattern"] = r.pattern;
        o["action"] = ruleActionName(r.action);
        if (!r.scheme.empty())
            o["scheme"] = r.scheme;
        if (!r.origin.empty())
            o["origin"] = r.origin;
        j.push_back(std::move(o));
    }
    return j.dump();
}

std::vector<SelectionRule> rulesFromJson(const std::string& text)
{
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw UsageError(std::string("keep rules: invalid JSON: ") + e.what());
    }
    if (!j.is_array())
        throw UsageError("keep rules: expected a JSON array");
    std::vector<SelectionRule> rules;
    for (const auto& o : j) {
        if (!o.is_object() || !o.contains("pattern") || !o["pattern"].is_string())
            throw UsageError("keep rules: every rule needs a string \"pattern\"");
        SelectionRule r;
        r.pattern = o["pattern"].get<std::string>();
        const auto syntax = ruleSyntaxFromName(o.value("syntax", std::string("module")));
        const auto action = ruleActionFromName(o.value("action", std::string("keep")));
        if (!syntax || !action)
            throw UsageError("keep rules: unknown syntax or action in the rule for '" + r.pattern + "'");
        r.syntax = *syntax;
        r.action = *action;
        r.scheme = o.value("scheme", std::string());
        r.origin = o.value("origin", std::string());
        rules.push_back(std::move(r));
    }
    return rules;
}

std::string describeRule(const SelectionRule& rule, bool withOrigin)
{
    std::string out = std::string(ruleActionName(rule.action)) + " " + std::string(ruleSyntaxName(rule.syntax)) + " \""
        + rule.pattern + "\"";
    if (rule.action == RuleAction::Quantize && !rule.scheme.empty())
        out += " with " + rule.scheme;
    if (withOrigin && !rule.origin.empty())
        out += " (" + rule.origin + ")";
    return out;
}

struct RuleMatcher::Impl
{
    RuleSyntax syntax;
    std::string pattern;
    bool isRegex = false;
    std::regex regex;
};

RuleMatcher::RuleMatcher(const SelectionRule& rule)
    : m_impl(std::make_unique<Impl>())
{
    m_impl->syntax = rule.syntax;
    m_impl->pattern = rule.pattern;
    try {
        if (rule.syntax == RuleSyntax::CompressedTensors && rule.pattern.rfind("re:", 0) == 0) {
            m_impl->isRegex = true;
            m_impl->regex = std::regex(rule.pattern.substr(3), std::regex::ECMAScript);
        } else if (rule.syntax == RuleSyntax::Glob) {
            m_impl->isRegex = true;
            m_impl->regex = std::regex(globToRegex(rule.pattern), std::regex::ECMAScript);
        }
    } catch (const std::regex_error& e) {
        throw UsageError("invalid pattern '" + rule.pattern + "': " + e.what());
    }
}

RuleMatcher::~RuleMatcher() = default;
RuleMatcher::RuleMatcher(RuleMatcher&&) noexcept = default;
RuleMatcher& RuleMatcher::operator=(RuleMatcher&&) noexcept = default;

bool RuleMatcher::matches(std::string_view path, bool isLinear) const
{
    const std::string& p = m_impl->pattern;
    switch (m_impl->syntax) {
    case RuleSyntax::Module:
        return path == p || (path.size() > p.size() && path.compare(0, p.size(), p) == 0 && path[p.size()] == '.');
    case RuleSyntax::NxdPartial:
        return !p.empty() && path.find(p) != std::string_view::npos;
    case RuleSyntax::CompressedTensors:
        if (m_impl->isRegex) { // Python re.match: anchored at the start, not at the end
            return std::regex_search(path.begin(), path.end(), m_impl->regex, std::regex_constants::match_continuous);
        }
        return path == p || (isLinear && p == "Linear");
    case RuleSyntax::FmsMoExact:
        return path == p;
    case RuleSyntax::Glob:
        return std::regex_match(path.begin(), path.end(), m_impl->regex);
    }
    return false;
}

bool RuleMatcher::matchesOnBoundary(std::string_view path) const
{
    if (m_impl->syntax != RuleSyntax::NxdPartial)
        return true;
    const std::string& p = m_impl->pattern;
    for (std::size_t at = path.find(p); at != std::string_view::npos; at = path.find(p, at + 1)) {
        const bool startsClean = boundaryBefore(path, at) || p.front() == '.';
        const bool endsClean = boundaryAfter(path, at + p.size()) || p.back() == '.';
        if (startsClean && endsClean)
            return true;
    }
    return false;
}

} // namespace qs
