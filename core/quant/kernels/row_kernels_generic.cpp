// SPDX-License-Identifier: GPL-3.0-or-later
// The row kernels compiled for the generic instruction set (see row_kernels_impl.h).
#define QS_KERNEL_ISA generic
#define QS_KERNEL_ISA_NAME "generic"
#include "quant/kernels/row_kernels_impl.h"
