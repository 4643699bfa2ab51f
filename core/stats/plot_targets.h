// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What `plot --all` and File > Export All Plots draw: one image per weight and stored
// activation, as the nanoGPT fork's visualize.py --weight all draws every key of its .pkl, but
// of any checkpoint. Plain data, no libtorch.
#include <cstdint>
#include <string>
#include <vector>

namespace qs {

class Checkpoint;
class ModuleTree;

// The tensors to draw, in file order: every floating tensor of one or more dimensions and
// every stored quantized tensor (fork codes, activations, exported int8 weights: drawn
// dequantized). Left out: scales and zero points (a quantized tensor's companions), the fork's
// training counters (`_step`), attention causal-mask buffers (`<...>.attn.bias` of 4
// dimensions), tied copies and 0-d values. `filter`: empty for all, "re:REGEX" (searched),
// a glob with * or ? (the whole name), or else a substring. UsageError for an invalid regex.
std::vector<std::string> plotTargets(const Checkpoint& checkpoint, const std::string& filter = {});

// The image's file name, as visualize.py names it without its timestamp:
// "<tensor>_histogram.png", or "<tensor>_matrix.png" for kind "heatmap".
std::string plotFileName(const std::string& tensor, const std::string& kind);

// Whether `tensor` is a Conv1D weight (stored [in, out]) that views draw as its [out, in] transpose.
bool isTransposedWeight(const ModuleTree& tree, const std::string& tensor);

// What heatmapOfFirstSlice() draws of a tensor of `shape`, for a title: "  (batch 0, head 0 of
// [3, 4, 16, 16])", or empty for a matrix.
std::string firstSliceNote(const std::vector<std::int64_t>& shape);

} // namespace qs
