// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The building blocks the model families share, as functions of float32 tensors.
#include "models/language_model.h"

#include <ATen/core/Tensor.h>

#include <string>

namespace qs::layers {

// weight * x / sqrt(mean(x^2) + eps), over the last dimension.
at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);
// (x - mean) / sqrt(var + eps) * weight + bias (bias optional), over the last dimension.
at::Tensor layerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);
// The activation function a config names: "gelu" (erf), "gelu_new"/"gelu_pytorch_tanh"/
// "gelu_fast" (tanh approximation), "relu", "silu"/"swish". UsageError for any other name.
at::Tensor activation(const at::Tensor& x, const std::string& name);

} // namespace qs::layers
