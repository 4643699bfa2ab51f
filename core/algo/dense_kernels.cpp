// SPDX-License-Identifier: GPL-3.0-or-later
#include "algo/dense_kernels.h"

#include "error.h"

#include <ATen/ATen.h>

#include <cstddef>
#include <limits>

// The Fortran interface (column-major; a row-major matrix is read as its transpose). The
// trailing lengths of the character arguments follow gfortran's convention; OpenBLAS ignores them.
extern "C" {
void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha, const float* a,
    const int* lda, const float* beta, float* c, const int* ldc, std::size_t, std::size_t);
}

namespace qs {
namespace {

int blasSize(std::int64_t n, const char* what)
{
    if (n > std::numeric_limits<int>::max())
        throw UsageError(std::string(what) + " is too large for the BLAS: " + std::to_string(n));
    return static_cast<int>(n);
}

bool isSquareFloat(const at::Tensor& t)
{
    return t.dim() == 2 && t.size(0) == t.size(1) && t.scalar_type() == at::kFloat && t.is_contiguous()
        && t.device().is_cpu();
}

} // namespace

void addGramLower(at::Tensor& sum, const at::Tensor& x, double alpha)
{
    if (!isSquareFloat(sum) || x.dim() != 2 || x.size(1) != sum.size(0))
        throw UsageError("addGramLower needs a contiguous float32 [n, n] sum and an [tokens, n] input");
    const at::Tensor a = x.to(at::kFloat).contiguous();
    if (a.size(0) == 0)
        return;
    // Row-major x [tokens, n] is the column-major n x tokens matrix A; A A^T = x^T x. Column-major
    // "upper" is the row-major lower triangle.
    const int n = blasSize(a.size(1), "the Hessian"), k = blasSize(a.size(0), "the calibration batch");
    const auto fAlpha = static_cast<float>(alpha);
    const float beta = 1.0F;
    ssyrk_("U", "N", &n, &k, &fAlpha, a.data_ptr<float>(), &n, &beta, sum.data_ptr<float>(), &n, 1, 1);
}

at::Tensor symmetrizedFromLower(const at::Tensor& lower)
{
    return at::tril(lower) + at::tril(lower, -1).t();
}

} // namespace qs
