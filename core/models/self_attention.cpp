// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/self_attention.h"

#include <ATen/ATen.h>

#include <cmath>

namespace qs {

at::Tensor selfAttention(const at::Tensor& qIn, const at::Tensor& kIn, const at::Tensor& vIn, const ModelConfig& c,
    const std::string& layerPath, const ActivationObserver& observe, std::int64_t past)
{
    const std::int64_t n = qIn.size(0);
    const std::int64_t total = kIn.size(0);
    auto see = [&](const char* kind, const at::Tensor& t, bool perChannel = true) {
        if (observe)
            observe(layerPath + kind, kind, t, perChannel);
    };
    see("attention.q", qIn);
    see("attention.k", kIn);
    see("attention.v", vIn);
    const at::Tensor q = qIn.reshape({ n, c.heads, c.headDim }).transpose(0, 1); // [heads, n, d]
    at::Tensor k = kIn.reshape({ total, c.kvHeads, c.headDim }).transpose(0, 1);
    at::Tensor v = vIn.reshape({ total, c.kvHeads, c.headDim }).transpose(0, 1);
    const std::int64_t groups = c.heads / c.kvHeads;
    if (groups > 1) {
        k = k.repeat_interleave(groups, 0);
        v = v.repeat_interleave(groups, 0);
    }
    const at::Tensor scaled = at::matmul(q, k.transpose(1, 2)) * c.attentionScale();
    at::Tensor probabilities;
    if (c.causal()) {
        const at::Tensor mask = at::full({ n, total }, -INFINITY).triu(1 + past);
        probabilities = at::softmax(scaled + mask, -1);
        if (observe) {
            const at::Tensor lower = at::ones({ n, total }, at::kBool).tril(past).expand_as(scaled);
            see("attention.softmax_input", scaled.masked_select(lower), false);
            see("attention.probabilities", probabilities.masked_select(lower), false);
        }
    } else {
        probabilities = at::softmax(scaled, -1);
        see("attention.softmax_input", scaled.reshape({ -1 }), false);
        see("attention.probabilities", probabilities.reshape({ -1 }), false);
    }
    at::Tensor attended = at::matmul(probabilities, v).transpose(0, 1).reshape({ n, c.heads * c.headDim });
    see("attention.pv_output", attended);
    return attended;
}

std::int64_t appendToCache(KvCache* cache, at::Tensor& keys, at::Tensor& values)
{
    if (!cache)
        return 0;
    const std::int64_t past = cache->tokens();
    if (past > 0) {
        keys = at::cat({ cache->keys, keys });
        values = at::cat({ cache->values, values });
    }
    cache->keys = keys;
    cache->values = values;
    return past;
}

} // namespace qs
