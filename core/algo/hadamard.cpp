// SPDX-License-Identifier: GPL-3.0-or-later
#include "algo/hadamard.h"

#include "error.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <random>
#include <vector>

namespace qs {
namespace {

bool isPrime(std::int64_t q)
{
    if (q < 2)
        return false;
    for (std::int64_t d = 2; d * d <= q; ++d) {
        if (q % d == 0)
            return false;
    }
    return true;
}

// Paley's first construction, order q + 1 for a prime q = 3 (mod 4): from the Jacobsthal matrix
// Q[i][j] = chi(j - i) (chi the quadratic character mod q), H = I + [[0, 1^T], [-1, Q]].
at::Tensor paley(std::int64_t q)
{
    std::vector<int> chi(static_cast<std::size_t>(q), -1);
    chi[0] = 0;
    for (std::int64_t x = 1; x < q; ++x)
        chi[static_cast<std::size_t>((x * x) % q)] = 1;
    const std::int64_t n = q + 1;
    at::Tensor h = at::zeros({ n, n }, at::kFloat);
    float* p = h.data_ptr<float>();
    for (std::int64_t j = 1; j < n; ++j) {
        p[j] = 1; // first row
        p[j * n] = -1; // first column
    }
    for (std::int64_t i = 0; i < q; ++i) {
        for (std::int64_t j = 0; j < q; ++j)
            p[(i + 1) * n + j + 1] = static_cast<float>(chi[static_cast<std::size_t>(((j - i) % q + q) % q)]);
    }
    return h + at::eye(n, at::kFloat);
}

at::Tensor sylvester(at::Tensor h, std::int64_t times)
{
    for (std::int64_t i = 0; i < times; ++i)
        h = at::cat({ at::cat({ h, h }, 1), at::cat({ h, -h }, 1) }, 0);
    return h;
}

// The Paley order b (or 1) and the doublings k with n = b * 2^k, or b = 0 when there is none.
std::pair<std::int64_t, std::int64_t> hadamardFactors(std::int64_t n)
{
    std::int64_t doublings = 0, m = n;
    while (m % 2 == 0) {
        m /= 2;
        ++doublings;
    }
    if (m == 1)
        return { 1, doublings };
    for (std::int64_t k = doublings; k >= 0; --k) {
        const std::int64_t b = n >> k;
        const std::int64_t q = b - 1;
        if (b % 4 == 0 && q % 4 == 3 && isPrime(q))
            return { b, k };
    }
    return { 0, 0 };
}

at::Tensor hadamardBase(std::int64_t b)
{
    return b == 1 ? at::ones({ 1, 1 }, at::kFloat) : paley(b - 1);
}

} // namespace

at::Tensor hadamardMatrix(std::int64_t n)
{
    if (n < 1)
        return {};
    const auto [b, k] = hadamardFactors(n);
    if (b == 0)
        return {};
    return sylvester(hadamardBase(b), k);
}

RotationKind rotationKindFromName(const std::string& name)
{
    if (name == "hadamard")
        return RotationKind::Hadamard;
    if (name == "random")
        return RotationKind::Random;
    throw UsageError("unknown rotation '" + name + "'; rotations: hadamard, random");
}

Rotation Rotation::make(std::int64_t n, RotationKind kind, std::uint64_t seed)
{
    if (n < 1)
        throw UsageError("a rotation needs a size of at least 1");
    Rotation r;
    r.m_size = n;
    std::mt19937_64 rng(seed);
    if (kind == RotationKind::Hadamard) {
        if (const auto [b, k] = hadamardFactors(n); b > 0) {
            std::vector<float> signs(static_cast<std::size_t>(n));
            for (float& s : signs)
                s = (rng() & 1) ? 1.0F : -1.0F;
            r.m_signs = at::tensor(signs, at::kFloat);
            r.m_base = hadamardBase(b);
            r.m_doublings = k;
            return r;
        }
    }
    // A Gaussian matrix from the seed (std::normal_distribution: the same on every platform's
    // libstdc++), its QR's Q with the signs of R's diagonal folded in (Haar-distributed).
    std::normal_distribution<float> normal;
    std::vector<float> values(static_cast<std::size_t>(n * n));
    for (float& v : values)
        v = normal(rng);
    const at::Tensor g = at::from_blob(values.data(), { n, n }, at::kFloat).to(at::kDouble);
    const auto [q, upper] = at::linalg_qr(g);
    r.m_dense = (q * at::sign(at::diagonal(upper)).reshape({ 1, -1 })).to(at::kFloat).contiguous();
    return r;
}

Rotation Rotation::fromMatrix(const at::Tensor& matrix, const std::string& label)
{
    if (matrix.dim() != 2 || matrix.size(0) != matrix.size(1) || matrix.size(0) < 1)
        throw UsageError("a rotation needs a square matrix");
    Rotation r;
    r.m_size = matrix.size(0);
    r.m_label = label;
    r.m_dense = matrix.detach().to(at::kFloat).contiguous();
    return r;
}

std::string Rotation::description() const
{
    return (isHadamard() ? std::string("hadamard") : m_label) + " " + std::to_string(m_size);
}

at::Tensor Rotation::hadamard(const at::Tensor& x, bool transposed) const
{
    const std::int64_t n = m_size, b = m_base.size(0), m = n / b;
    // x (H_{2^k} (x) H_b): H_b on each group of b (H_b, a Paley matrix, is not symmetric: its
    // transpose for x H^T), then the butterflies over the 2^k groups, row by row in place (a row
    // stays in the cache through every pass).
    at::Tensor rows = x.reshape({ -1, n }).to(at::kFloat);
    rows = b > 1 ? at::matmul(rows.reshape({ -1, m, b }), transposed ? m_base.t() : m_base).reshape({ -1, n }).contiguous()
                 : rows.clone(at::MemoryFormat::Contiguous);
    float* data = rows.data_ptr<float>();
    at::parallel_for(0, rows.size(0), 8, [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) {
            float* row = data + r * n;
            for (std::int64_t h = 1; h < m; h *= 2) {
                const std::int64_t span = h * b; // elements between the two halves of a butterfly
                for (std::int64_t i = 0; i < n; i += 2 * span) {
                    float* lo = row + i;
                    float* hi = lo + span;
                    for (std::int64_t t = 0; t < span; ++t) {
                        const float u = lo[t], v = hi[t];
                        lo[t] = u + v;
                        hi[t] = u - v;
                    }
                }
            }
        }
    });
    return rows.reshape(x.sizes());
}

at::Tensor Rotation::right(const at::Tensor& x) const
{
    if (x.size(-1) != m_size)
        throw UsageError("a rotation of size " + std::to_string(m_size) + " on rows of " + std::to_string(x.size(-1)));
    if (!isHadamard())
        return at::matmul(x, m_dense);
    return hadamard(x.to(at::kFloat), false) * (m_signs / std::sqrt(static_cast<double>(m_size)));
}

at::Tensor Rotation::rightTransposed(const at::Tensor& x) const
{
    if (x.size(-1) != m_size)
        throw UsageError("a rotation of size " + std::to_string(m_size) + " on rows of " + std::to_string(x.size(-1)));
    if (!isHadamard())
        return at::matmul(x, m_dense.t());
    return hadamard(x.to(at::kFloat) * m_signs, true) / std::sqrt(static_cast<double>(m_size));
}

at::Tensor Rotation::matrix() const
{
    return isHadamard() ? right(at::eye(m_size, at::kFloat)) : m_dense;
}

at::Tensor rotationMatrix(std::int64_t n, RotationKind kind, std::uint64_t seed)
{
    return Rotation::make(n, kind, seed).matrix();
}

} // namespace qs
