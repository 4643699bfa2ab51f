// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Multi-head scaled dot-product self-attention over one sequence, shared by every family (Llama
// passes q and k after the rotation): grouped key/value heads (repeat_interleave, as the nanoGPT fork and Hugging Face
// map them), a causal mask for decoders, and the attention observer points.
#include "models/block.h"

#include <ATen/core/Tensor.h>

#include <string>

namespace qs {

// q [tokens, heads * headDim], k and v [past + tokens, kvHeads * headDim] (the first `past` rows
// from a KV cache), as the projections give them; returns the attended values
// [tokens, heads * headDim] before the output projection. A decoder's token i sees keys 0 .. past + i.
// Observes attention.q, .k, .v, .softmax_input and .probabilities (flat: the causal lower
// triangle for a decoder, every score for an encoder) and .pv_output under `layerPath`
// ("transformer.h.3.").
at::Tensor selfAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const ModelConfig& config,
    const std::string& layerPath, const ActivationObserver& observe, std::int64_t past = 0);

// Appends keys and values to the cache (when there is one) and replaces them by everything the
// cache holds; returns how many tokens it held before.
std::int64_t appendToCache(KvCache* cache, at::Tensor& keys, at::Tensor& values);

} // namespace qs
