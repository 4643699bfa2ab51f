// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string_view>

namespace qs {

// What a module in the tree is, as far as tensor names, shapes and the config tell.
enum class ModuleKind
{
    Container, // holds other modules (a decoder layer, "model")
    Linear, // a 2-D `weight` used as y = x W^T: what the exporters quantize
    Embedding, // a lookup table (token or position embeddings)
    Norm, // LayerNorm / RMSNorm gains
    Conv1D, // Hugging Face GPT-2 Conv1D: a Linear whose weight is stored transposed, y = x W + b, W [in, out]
    QuantizedLinear, // a Linear stored quantized (int8/fp8/packed weight with its scale): not re-quantized
    Other, // anything else holding tensors (buffers, biases of their own, scalars)
};

std::string_view moduleKindName(ModuleKind kind);

} // namespace qs
