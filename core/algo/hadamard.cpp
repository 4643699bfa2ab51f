// SPDX-License-Identifier: GPL-3.0-or-later
#include "algo/hadamard.h"

#include "error.h"

#include <ATen/ATen.h>

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

} // namespace

at::Tensor hadamardMatrix(std::int64_t n)
{
    if (n < 1)
        return {};
    std::int64_t doublings = 0, m = n;
    while (m % 2 == 0) {
        m /= 2;
        ++doublings;
    }
    if (m == 1)
        return sylvester(at::ones({ 1, 1 }, at::kFloat), doublings);
    // n = b * 2^k with b = q + 1 a Paley order.
    for (std::int64_t k = doublings; k >= 0; --k) {
        const std::int64_t b = n >> k;
        const std::int64_t q = b - 1;
        if (b % 4 == 0 && q % 4 == 3 && isPrime(q))
            return sylvester(paley(q), k);
    }
    return {};
}

RotationKind rotationKindFromName(const std::string& name)
{
    if (name == "hadamard")
        return RotationKind::Hadamard;
    if (name == "random")
        return RotationKind::Random;
    throw UsageError("unknown rotation '" + name + "'; rotations: hadamard, random");
}

at::Tensor rotationMatrix(std::int64_t n, RotationKind kind, std::uint64_t seed)
{
    if (n < 1)
        throw UsageError("a rotation needs a size of at least 1");
    std::mt19937_64 rng(seed);
    if (kind == RotationKind::Hadamard) {
        if (at::Tensor h = hadamardMatrix(n); h.defined()) {
            std::vector<float> signs(static_cast<std::size_t>(n));
            for (float& s : signs)
                s = (rng() & 1) ? 1.0F : -1.0F;
            const at::Tensor d = at::tensor(signs, at::kFloat);
            return h * d.reshape({ 1, -1 }) / std::sqrt(static_cast<double>(n));
        }
    }
    // A Gaussian matrix from the seed (std::normal_distribution: the same on every platform's
    // libstdc++), its QR's Q with the signs of R's diagonal folded in (Haar-distributed).
    std::normal_distribution<float> normal;
    std::vector<float> values(static_cast<std::size_t>(n * n));
    for (float& v : values)
        v = normal(rng);
    const at::Tensor g = at::from_blob(values.data(), { n, n }, at::kFloat).to(at::kDouble);
    const auto [q, r] = at::linalg_qr(g);
    return (q * at::sign(at::diagonal(r)).reshape({ 1, -1 })).to(at::kFloat).contiguous();
}

} // namespace qs
