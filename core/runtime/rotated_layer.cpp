// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/rotated_layer.h"

#include "algo/hadamard.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

namespace qs {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// x R for a fixed rotation (the online R4), differentiable in x: the gradient is g R^T. Both ways
// use the rotation's fast transform.
class RotateRight : public torch::autograd::Function<RotateRight>
{
public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, std::int64_t rotation)
    {
        ctx->saved_data["rotation"] = rotation;
        return reinterpret_cast<const Rotation*>(rotation)->right(x.contiguous());
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads)
    {
        const auto* r = reinterpret_cast<const Rotation*>(ctx->saved_data["rotation"].toInt());
        return { r->rightTransposed(grads[0].contiguous()), at::Tensor() };
    }
};

} // namespace

at::Tensor rotateRightDifferentiable(const at::Tensor& x, const Rotation& r)
{
    return RotateRight::apply(x, reinterpret_cast<std::int64_t>(&r));
}

at::Tensor straightThrough(const at::Tensor& x, const at::Tensor& q)
{
    return x + (q - x).detach();
}

RotatedLayerWeights rotatedLayerWeights(const Block& block, const ModelConfig& c, const at::Tensor& r1,
    const at::Tensor& r2, const Rotation* r4, const WeightTransform& quantize)
{
    const std::string p = block.name() + ".";
    at::Tensor gammaIn, gammaPost;
    for (const NormWeights* n : block.smoothableNorms()) {
        if (n->module == p + "input_layernorm")
            gammaIn = n->weight.reshape({ 1, -1 });
        else if (n->module == p + "post_attention_layernorm")
            gammaPost = n->weight.reshape({ 1, -1 });
    }
    auto weight = [&](const std::string& module) { return block.projection(p + module)->weight; };
    RotatedLayerWeights out;
    auto add = [&](const std::string& module, at::Tensor w) {
        if (quantize) {
            at::Tensor q;
            {
                at::NoGradGuard noGrad;
                q = quantize(p + module, w.detach().contiguous());
            }
            w = straightThrough(w, q);
        }
        out.weights.emplace_back(p + module, w);
    };
    add("self_attn.q_proj", at::matmul(weight("self_attn.q_proj") * gammaIn, r1));
    add("self_attn.k_proj", at::matmul(weight("self_attn.k_proj") * gammaIn, r1));
    at::Tensor v = at::matmul(weight("self_attn.v_proj") * gammaIn, r1);
    at::Tensor o = weight("self_attn.o_proj");
    if (r2.defined()) {
        const std::int64_t d = c.headDim;
        v = at::matmul(r2.t(), v.reshape({ -1, d, c.hidden })).reshape({ -1, c.hidden });
        o = at::matmul(o.reshape({ c.hidden, -1, d }), r2).reshape({ c.hidden, -1 });
        if (const at::Tensor& b = block.projection(p + "self_attn.v_proj")->bias; b.defined()) {
            out.biasModule = p + "self_attn.v_proj";
            out.bias = at::matmul(b.reshape({ -1, d }), r2).reshape({ -1 });
        }
    }
    add("self_attn.v_proj", v);
    add("self_attn.o_proj", at::matmul(r1.t(), o));
    add("mlp.gate_proj", at::matmul(weight("mlp.gate_proj") * gammaPost, r1));
    add("mlp.up_proj", at::matmul(weight("mlp.up_proj") * gammaPost, r1));
    at::Tensor down = at::matmul(r1.t(), weight("mlp.down_proj"));
    if (r4)
        down = rotateRightDifferentiable(down, *r4);
    add("mlp.down_proj", down);
    return out;
}

void installRotated(Block& block, const RotatedLayerWeights& w)
{
    for (const NormWeights* n : block.smoothableNorms())
        block.resetNorm(n->module);
    for (const auto& [module, weight] : w.weights)
        block.replaceWeight(module, weight);
    if (w.bias.defined())
        block.replaceBias(w.biasModule, w.bias);
}

} // namespace qs
