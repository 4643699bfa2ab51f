// SPDX-License-Identifier: GPL-3.0-or-later
// The row kernels compiled for the avx2 instruction set (see row_kernels_impl.h).
#define QS_KERNEL_ISA avx2
#define QS_KERNEL_ISA_NAME "avx2"
#include "quant/kernels/row_kernels_impl.h"
