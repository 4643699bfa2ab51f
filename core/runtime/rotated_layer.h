// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// One Llama layer of a rotated model as a differentiable function of its rotations (SpinQuant's
// learning, runtime/spinquant.h): the norms folded into the Linear modules that read them (the
// norms become the identity), R1 on the residual side (W R1 for q/k/v and gate/up, R1^T W for o
// and down), R2 per head (v's rows, o's columns, v's bias), the online Hadamard's weight side on
// down, then each weight fake-quantized with a straight-through gradient. R1 and R2 may require
// gradients; the result carries them.
#include "models/block.h"
#include "models/model_config.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace qs {

class Rotation;

struct RotatedLayerWeights
{
    std::vector<std::pair<std::string, at::Tensor>> weights; // module -> fake-quantized rotated weight
    std::string biasModule; // v_proj, when it has a bias and R2 rotates it
    at::Tensor bias;
};

// q in the forward pass, the identity's gradient in the backward pass.
at::Tensor straightThrough(const at::Tensor& x, const at::Tensor& q);
// x R for a fixed rotation, differentiable in x (the gradient is g R^T); both ways the fast transform.
at::Tensor rotateRightDifferentiable(const at::Tensor& x, const Rotation& r);

// The layer's weights in the rotated model (`block` as loaded, its norms not folded yet); r2
// undefined: no R2; r4 null: no online rotation; `quantize` empty: float weights.
RotatedLayerWeights rotatedLayerWeights(const Block& block, const ModelConfig& config, const at::Tensor& r1,
    const at::Tensor& r2, const Rotation* r4, const WeightTransform& quantize);

// The block computing with them: its norms reset to the identity, its weights (and bias) replaced.
void installRotated(Block& block, const RotatedLayerWeights& weights);

} // namespace qs
