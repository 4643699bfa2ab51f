// SPDX-License-Identifier: GPL-3.0-or-later
#include "algo/cayley.h"

#include "error.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace qs {

CayleyStep cayleyStep(const at::Tensor& rotation, const at::Tensor& gradient, double lr)
{
    if (rotation.dim() != 2 || rotation.size(0) != rotation.size(1) || gradient.sizes() != rotation.sizes())
        throw UsageError("a Cayley step needs a square rotation and a gradient of its shape");
    if (!(lr > 0))
        throw UsageError("the learning rate of a Cayley step must be positive");
    const at::Tensor r = rotation.to(at::kDouble);
    const at::Tensor g = gradient.to(at::kDouble);
    const at::Tensor a = at::matmul(g, r.t()) - at::matmul(r, g.t());
    const double norm1 = a.abs().sum(0).max().item<double>(); // the largest column sum
    CayleyStep out;
    out.step = std::min(lr, 1.0 / (norm1 + 1e-8));
    const at::Tensor eye = at::eye(r.size(0), r.options());
    const at::Tensor half = a * (out.step / 2);
    out.rotation = at::linalg_solve(eye + half, at::matmul(eye - half, r));
    return out;
}

} // namespace qs
