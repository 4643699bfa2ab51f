// SPDX-License-Identifier: GPL-3.0-or-later
// The row kernels compiled for the avx512 instruction set (see row_kernels_impl.h).
#define QS_KERNEL_ISA avx512
#define QS_KERNEL_ISA_NAME "avx512"
#include "quant/kernels/row_kernels_impl.h"
