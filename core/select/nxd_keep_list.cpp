// SPDX-License-Identifier: GPL-3.0-or-later
#include "select/nxd_keep_list.h"

#include "model/module_tree.h"

namespace qs {
namespace {

bool matchesAnyOutside(const ModuleTree& tree, const std::string& pattern, const std::set<int>& kept)
{
    for (int q : tree.quantizable()) {
        if (!kept.count(q) && tree.node(q).path.find(pattern) != std::string::npos)
            return true;
    }
    return false;
}

// All quantizable modules below `index` are kept, and none of them sits deeper than a child.
bool isKeptBlock(const ModuleTree& tree, int index, const std::set<int>& kept)
{
    const auto& n = tree.node(index);
    if (n.quantizableCount == 0)
        return false;
    for (int d : tree.descendants(index)) {
        if (tree.isQuantizable(d) && (!kept.count(d) || tree.node(d).parent != index))
            return false;
    }
    return !tree.isQuantizable(index) || kept.count(index);
}

void collect(const ModuleTree& tree, int index, const std::set<int>& kept, std::vector<std::string>& out)
{
    const auto& n = tree.node(index);
    if (n.quantizableCount == 0)
        return;
    const bool leafKept = tree.isQuantizable(index) && n.children.empty() && kept.count(index);
    if (index != tree.root() && (leafKept || isKeptBlock(tree, index, kept))) {
        const std::string prefix = "model.";
        std::string candidate = n.path.rfind(prefix, 0) == 0 ? n.path.substr(prefix.size()) : n.path;
        if (matchesAnyOutside(tree, candidate, kept))
            candidate = n.path;
        if (!matchesAnyOutside(tree, candidate, kept) || leafKept) {
            out.push_back(candidate);
            return;
        }
    }
    if (tree.isQuantizable(index) && kept.count(index) && !n.children.empty())
        out.push_back(n.path); // a Linear with children of its own: name it exactly
    for (int c : n.children)
        collect(tree, c, kept, out);
}

} // namespace

NxdKeepResolution resolveNxdKeepList(const ModuleTree& tree, const std::vector<std::string>& patterns)
{
    NxdKeepResolution result;
    for (const auto& pattern : patterns) {
        bool any = false;
        for (int q : tree.quantizable()) {
            if (!pattern.empty() && tree.node(q).path.find(pattern) != std::string::npos) {
                result.kept.insert(q);
                any = true;
            }
        }
        if (!any)
            result.unmatched.push_back(pattern);
    }
    return result;
}

std::vector<std::string> compactNxdKeepList(const ModuleTree& tree, const std::set<int>& kept)
{
    std::vector<std::string> out;
    collect(tree, tree.root(), kept, out);
    return out;
}

} // namespace qs
