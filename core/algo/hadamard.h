// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Orthogonal rotations for QuaRot-style rotation of a model: Hadamard matrices of any order that is
// a power of two times a Paley order (q + 1, q a prime with q = 3 mod 4: 12, 20, 24, 44, 48, 60, ...)
// by Sylvester doubling, randomised by a seeded diagonal of signs; where no such Hadamard exists,
// a seeded random orthogonal matrix (the Q of a Gaussian matrix's QR). All float32, [n, n],
// orthogonal (R R^T = I).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace qs {

// A Hadamard matrix of order n (entries +-1, H H^T = n I), or undefined when this construction has
// none of that order.
at::Tensor hadamardMatrix(std::int64_t n);

enum class RotationKind : std::uint8_t
{
    Hadamard, // randomised Hadamard, falling back to random orthogonal where none exists
    Random, // seeded random orthogonal
};
RotationKind rotationKindFromName(const std::string& name); // "hadamard", "random"

// H diag(s) / sqrt(n) with random signs s from `seed` (Hadamard), or the random orthogonal matrix.
at::Tensor rotationMatrix(std::int64_t n, RotationKind kind, std::uint64_t seed);

} // namespace qs
