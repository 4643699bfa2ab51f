// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The row machinery of quantizeWithScheme (scheme_quantizer.cpp): a weight seen as [rows, cols],
// rows read as the kernels read them, row blocks swept in parallel with cancellation, and the
// sums the kernels return merged into metrics. Internal to core/quant.

#include "error.h"
#include "quant/error_metrics.h"
#include "quant/kernels/row_kernels.h"
#include "quant/quant_scheme.h"
#include "quant/scheme_math.h"
#include "quant/scheme_quantizer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace qs::quant_detail {

// The input as [rows, cols], channel axis first.
at::Tensor asRows(const at::Tensor& weight, const QuantScheme& scheme);

// Row r of a contiguous [rows, cols] tensor, as the kernels read it.
struct RowSource
{
    const std::uint8_t* data = nullptr;
    std::int64_t cols = 0;
    std::size_t elementSize = 0;
    kernels::InputType type = kernels::InputType::F32;

    const void* row(std::int64_t r) const { return data + static_cast<std::size_t>(r * cols) * elementSize; }
};

// The rows of a contiguous floating [rows, cols] tensor; UsageError for another dtype.
RowSource sourceOf(const at::Tensor& rows);

UnitStats unitStats(const kernels::RunStats& r, std::int64_t count);
void mergeRun(kernels::RunError& into, const kernels::RunError& e);
// The metrics of `count` values whose sums are `total`.
ErrorMetrics errorOf(const kernels::RunError& total, std::int64_t count);
// The unbiased std of a row's `cols` codes from their sums (0 for a single column).
float codeStdOf(const kernels::RunError& row, std::int64_t cols);
// Adds the byte values of data[0..n) to `counts`.
void countBytes(const std::uint8_t* data, std::int64_t n, std::array<std::int64_t, 256>& counts);

// Calls body(begin, end, rowBuffer) over blocks of rows, in parallel when asked. Between rows
// the body calls `running()`, which turns false once cancelled (or once a row failed).
class RowSweep
{
public:
    RowSweep(std::int64_t rows, std::int64_t cols, const QuantizeOptions& options)
        : m_rows(rows)
        , m_cols(cols)
        , m_options(options)
    { }

    template <typename Body> void run(Body&& body)
    {
        auto block = [&](std::int64_t begin, std::int64_t end) {
            std::vector<float> buffer(static_cast<std::size_t>(std::max<std::int64_t>(m_cols, 1)));
            body(begin, end, buffer.data());
        };
        const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(m_cols, 1));
        if (m_options.parallel)
            at::parallel_for(0, m_rows, grain, block);
        else
            block(0, m_rows);
        if (m_badRow >= 0)
            throw FormatError(
                "row " + std::to_string(m_badRow.load()) + " holds NaN or infinity; it cannot be quantized");
        if (m_stopped)
            throw CancelledError();
    }

    bool running()
    {
        if (m_options.cancel.cancelled())
            m_stopped = true;
        return !m_stopped;
    }

    void fail(std::int64_t row)
    {
        std::int64_t expected = -1;
        m_badRow.compare_exchange_strong(expected, row);
        m_stopped = true;
    }

private:
    std::int64_t m_rows;
    std::int64_t m_cols;
    const QuantizeOptions& m_options;
    std::atomic<bool> m_stopped { false };
    std::atomic<std::int64_t> m_badRow { -1 };
};

} // namespace qs::quant_detail
