// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/layers.h"

#include "error.h"

#include <ATen/ATen.h>

namespace qs::layers {

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps)
{
    const at::Tensor variance = x.pow(2).mean(-1, true);
    return weight * (x * at::rsqrt(variance + eps));
}

at::Tensor layerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps)
{
    return at::layer_norm(x, { x.size(-1) }, weight, bias, eps);
}

namespace {

bool tanhGelu(const std::string& name)
{
    return name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast";
}

} // namespace

at::Tensor activation(const at::Tensor& x, const std::string& name)
{
    if (name == "gelu")
        return at::gelu(x);
    if (tanhGelu(name))
        return at::gelu(x, "tanh");
    if (name == "relu")
        return at::relu(x);
    if (name == "silu" || name == "swish")
        return at::silu(x);
    qs::checkActivation(name); // throws: the config names a function this does not run
    return x;
}

} // namespace qs::layers
