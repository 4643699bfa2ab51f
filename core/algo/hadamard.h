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

// R = H diag(s) / sqrt(n) with random signs s from `seed` (Hadamard), or the random orthogonal
// matrix. A Hadamard rotation is applied without its matrix: H of order b * 2^k is H_{2^k} (x) H_b,
// so x H is a b x b product per group of b channels followed by k butterfly passes (the fast
// Walsh-Hadamard transform): O(n (b + log n)) per row instead of O(n^2).
class Rotation
{
public:
    static Rotation make(std::int64_t n, RotationKind kind, std::uint64_t seed);
    // A given orthogonal matrix [n, n] (a learned rotation), described as "`label` n". UsageError
    // when it is not square.
    static Rotation fromMatrix(const at::Tensor& matrix, const std::string& label = "learned");

    std::int64_t size() const { return m_size; }
    bool isHadamard() const { return m_base.defined(); }
    std::string description() const; // "hadamard 4096", "random 28"
    at::Tensor matrix() const; // [n, n] float32
    at::Tensor right(const at::Tensor& x) const; // x R, x [..., n] float32
    at::Tensor rightTransposed(const at::Tensor& x) const; // x R^T

private:
    at::Tensor hadamard(const at::Tensor& x, bool transposed) const; // x H or x H^T (unscaled)

    std::int64_t m_size = 0;
    std::string m_label = "random"; // of a dense rotation
    at::Tensor m_dense; // a random orthogonal or a given rotation
    at::Tensor m_base; // H_b, float32 [b, b]
    std::int64_t m_doublings = 0;
    at::Tensor m_signs; // [n]
};

// Rotation::make(n, kind, seed).matrix().
at::Tensor rotationMatrix(std::int64_t n, RotationKind kind, std::uint64_t seed);

} // namespace qs
