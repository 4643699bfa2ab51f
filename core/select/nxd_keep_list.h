// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <set>
#include <string>
#include <vector>

namespace qs {

class ModuleTree;

// AWS Neuron NxD's `modules_to_not_convert` semantics: a quantizable module stays in full
// precision when any pattern is a substring of its full dotted name. A pattern naming a
// parent ("layers.1.mlp") therefore keeps everything below it, and "layers.1" also keeps
// layers 10-19.
struct NxdKeepResolution
{
    std::set<int> kept; // quantizable module indices
    std::vector<std::string> unmatched; // patterns that keep nothing
};

NxdKeepResolution resolveNxdKeepList(const ModuleTree& tree, const std::vector<std::string>& patterns);

// The shortest list of NxD partial names that keeps exactly `kept` (quantizable module
// indices) and nothing else. Names drop the leading "model." (NxD's own module names lack
// it) and name an attention or MLP block when all of its Linears are kept, as NxD's
// examples do ("layers.0.self_attn", "layers.3.mlp", "lm_head"); a name is only used when
// it matches no module outside `kept`.
std::vector<std::string> compactNxdKeepList(const ModuleTree& tree, const std::set<int>& kept);

} // namespace qs
