// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// A dense kernel GPTQ needs that ATen does not offer, from the BLAS libtorch already loads
// (Debian's OpenBLAS): the symmetric rank-k update, which computes half of x^T x. Float32,
// contiguous, on the CPU.
#include <ATen/core/Tensor.h>

namespace qs {

// sum += alpha * x^T x for x [tokens, n], in the lower triangle of sum [n, n] only (its upper
// triangle is left as it is): half the work of a matrix product. symmetrizedFromLower() makes
// the whole matrix.
void addGramLower(at::Tensor& sum, const at::Tensor& x, double alpha);
at::Tensor symmetrizedFromLower(const at::Tensor& lower);

} // namespace qs
