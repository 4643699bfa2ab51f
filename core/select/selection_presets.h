// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Ready-made keep rules. Each preset looks at the model and returns Module rules naming real
// paths (so the deciding rule explains itself), with "preset: ..." as their origin.
#include "select/selection_rule.h"

#include <map>
#include <string>
#include <vector>

namespace qs {

class ModuleTree;

std::vector<SelectionRule> keepLmHeadPreset(const ModuleTree& tree);
std::vector<SelectionRule> keepEmbeddingsPreset(const ModuleTree& tree); // embeddings and tied heads
std::vector<SelectionRule> keepAttentionPreset(const ModuleTree& tree); // every attention block
// The MLP blocks of the first and last `n` decoder layers (the NxD document's Llama strategy).
std::vector<SelectionRule> keepEdgeMlpsPreset(const ModuleTree& tree, int n);
// Modules by measured error: those with SQNR below `sqnrBelowDb` (when not NaN), or else the
// `worst` ones with the lowest SQNR. `sqnrDb` maps quantizable module indices to their SQNR.
std::vector<SelectionRule> keepWorstPreset(
    const ModuleTree& tree, const std::map<int, double>& sqnrDb, double sqnrBelowDb, int worst);

// The decoder layers of a model in order: containers whose name is a number under a "layers",
// "h", "layer" or "blocks" container (model.layers.N, transformer.h.N, encoder.layer.N).
std::vector<int> decoderLayers(const ModuleTree& tree);

// Presets by name for the CLI: "lm-head", "embeddings", "attention", "edge-mlps:N".
std::vector<SelectionRule> selectionPreset(const ModuleTree& tree, const std::string& spec);

} // namespace qs
