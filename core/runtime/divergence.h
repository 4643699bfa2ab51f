// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Where along the depth a quantized model's hidden states leave the float model's: what the
// block runner measures while it runs the two side by side. Plain data.
#include <string>

namespace qs {

// Per decoder/encoder layer: the compared stream's output y against the reference's r, as
// sum |y - r|^2 / sum |r|^2 over every token, and the mean per-token cosine.
struct BlockDivergence
{
    std::string name; // "model.layers.3"
    double relativeMse = 0;
    double cosine = 1;
};

// Per Linear module of the layers: its output error against the reference stream's module
// output, on the reference stream's input (its own error: the module's weight and input
// quantization alone) and on the compared stream's input (accumulated: every module before it too).
struct ModuleDivergence
{
    std::string module;
    std::string block;
    double ownRelativeMse = 0;
    double accumulatedRelativeMse = 0;
};

} // namespace qs
