// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/self_attention.h"

#include <ATen/ATen.h>

#include <cmath>

namespace qs {

at::Tensor selfAttention(const at::Tensor& qIn, const at::Tensor& kIn, const at::Tensor& vIn, const ModelConfig& c,
    const std::string& layerPath, const ActivationObserver& observe)
{
    const std::int64_t n = qIn.size(0);
    auto see = [&](const char* kind, const at::Tensor& t, bool perChannel = true) {
        if (observe)
            observe(layerPath + kind, kind, t, perChannel);
    };
    see("attention.q", qIn);
    see("attention.k", kIn);
    see("attention.v", vIn);
    const at::Tensor q = qIn.reshape({ n, c.heads, c.headDim }).transpose(0, 1); // [heads, n, d]
    at::Tensor k = kIn.reshape({ n, c.kvHeads, c.headDim }).transpose(0, 1);
    at::Tensor v = vIn.reshape({ n, c.kvHeads, c.headDim }).transpose(0, 1);
    const std::int64_t groups = c.heads / c.kvHeads;
    if (groups > 1) {
        k = k.repeat_interleave(groups, 0);
        v = v.repeat_interleave(groups, 0);
    }
    const at::Tensor scaled = at::matmul(q, k.transpose(1, 2)) * c.attentionScale();
    at::Tensor probabilities;
    if (c.causal()) {
        const at::Tensor mask = at::full({ n, n }, -INFINITY).triu(1);
        probabilities = at::softmax(scaled + mask, -1);
        if (observe) {
            const at::Tensor lower = at::ones({ n, n }, at::kBool).tril().expand_as(scaled);
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

} // namespace qs
