// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Gradient descent on the orthogonal group with the Cayley transform (SpinQuant's rotation
// learning): a step keeps the rotation exactly orthogonal instead of projecting back.
#include <ATen/core/Tensor.h>

namespace qs {

struct CayleyStep
{
    at::Tensor rotation; // [n, n] float64, orthogonal
    double step = 0; // the step size taken
};

// One step from rotation R [n, n] with the loss's gradient G (any float type): the skew-symmetric
// A = G R^T - R G^T and R' = (I + a/2 A)^-1 (I - a/2 A) R, the update of the nanoGPT fork's
// CayleySGD. The step size a is min(lr, 1 / (||A||_1 + 1e-8)), the bound SpinQuant's Stiefel SGD
// (SGDG, without momentum) puts on it, so that a large gradient cannot throw the rotation far.
// Computed in float64; R' R'^T = I to rounding.
CayleyStep cayleyStep(const at::Tensor& rotation, const at::Tensor& gradient, double lr);

} // namespace qs
