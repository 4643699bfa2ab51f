// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Multi-head scaled dot-product self-attention over one sequence, shared by every family (Llama
// passes q and k after the rotation): grouped key/value heads (repeat_interleave, as the nanoGPT fork and Hugging Face
// map them), a causal mask for decoders, and the attention observer points.
#include "models/language_model.h"

#include <ATen/core/Tensor.h>

#include <string>

namespace qs {

// q [tokens, heads * headDim], k and v [tokens, kvHeads * headDim], as the projections give
// them; returns the attended values [tokens, heads * headDim] before the output projection.
// Observes attention.q, .k, .v, .softmax_input and .probabilities (flat: the causal lower
// triangle for a decoder, every score for an encoder) and .pv_output under `layerPath`
// ("transformer.h.3.").
at::Tensor selfAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const ModelConfig& config,
    const std::string& layerPath, const ActivationObserver& observe);

} // namespace qs
