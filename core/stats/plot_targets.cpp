// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats/plot_targets.h"

#include "error.h"
#include "io/checkpoint.h"
#include "model/module_tree.h"
#include "select/selection_rule.h"
#include "text.h"

#include <optional>
#include <regex>

namespace qs {
namespace {

class NameFilter
{
public:
    explicit NameFilter(const std::string& filter)
        : m_filter(filter)
    {
        if (filter.rfind("re:", 0) == 0) {
            try {
                m_regex = std::regex(filter.substr(3), std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
                throw UsageError("--filter: '" + filter.substr(3) + "' is not a valid regular expression: " + e.what());
            }
        } else if (filter.find_first_of("*?") != std::string::npos) {
            m_glob.emplace(SelectionRule { RuleSyntax::Glob, filter, RuleAction::Keep, {}, {} });
        }
    }

    bool matches(const std::string& name) const
    {
        if (m_filter.empty())
            return true;
        if (m_regex)
            return std::regex_search(name, *m_regex);
        if (m_glob)
            return m_glob->matches(name);
        return name.find(m_filter) != std::string::npos;
    }

private:
    std::string m_filter;
    std::optional<std::regex> m_regex;
    std::optional<RuleMatcher> m_glob;
};

bool isCausalMask(const TensorInfo& t)
{
    return t.shape.size() == 4 && (endsWith(t.name, ".attn.bias") || t.name == "attn.bias");
}

} // namespace

std::vector<std::string> plotTargets(const Checkpoint& checkpoint, const std::string& filter)
{
    const NameFilter match(filter);
    const QuantizationInfo& q = checkpoint.quantization();
    std::vector<std::string> out;
    for (const TensorInfo& t : checkpoint.tensors()) {
        const bool stored = q.recipes.count(t.name) > 0;
        if (!t.aliasOf.empty() || t.shape.empty() || q.companions.count(t.name) || isCausalMask(t))
            continue;
        if (endsWith(t.name, "._step") || t.name == "_step")
            continue;
        if (!stored && !isFloatingPoint(t.dtype))
            continue;
        if (match.matches(t.name))
            out.push_back(t.name);
    }
    return out;
}

std::string plotFileName(const std::string& tensor, const std::string& kind)
{
    return tensor + (kind == "heatmap" ? "_matrix.png" : "_histogram.png");
}

bool isTransposedWeight(const ModuleTree& tree, const std::string& tensor)
{
    const int module = tree.moduleOfTensor(tensor);
    return module >= 0 && tree.isTransposed(module) && tensor == tree.node(module).path + ".weight";
}

std::string firstSliceNote(const std::vector<std::int64_t>& shape)
{
    if (shape.size() < 3)
        return {};
    return std::string(shape.size() == 3 ? "  (batch 0 of " : "  (batch 0, head 0 of ") + formatShape(shape) + ")";
}

} // namespace qs
