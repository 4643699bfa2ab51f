// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/checkpoint.h"
#include "model/module_tree.h"

#include <memory>

namespace qs::app {

// An opened checkpoint and its module tree, shared read-only between the GUI thread and
// the workers that analyse or export it.
struct LoadedModel
{
    Checkpoint checkpoint;
    ModuleTree tree;
};

using LoadedModelPtr = std::shared_ptr<const LoadedModel>;

} // namespace qs::app
