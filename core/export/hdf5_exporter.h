// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "export/exporter.h"

#include <memory>

namespace qs {

// A dump of what quantization does, for analysis in Python or elsewhere (the counterpart of the
// nanoGPT fork's pickle dump), in one HDF5 file, quantscope_dump.h5:
//   /                      attrs: layout "quantscope-dump", layout_version 1, scheme (JSON)
//   /tensors/<name>/       one group per quantized weight, <name> its full tensor name
//       codes              int8 codes (fp8: uint8 bit patterns), the weight's shape ([out, in] for a
//                          Conv1D weight stored [in, out], with attr layout saying so)
//       scale              float32: [] per tensor, [rows, 1] per channel, [rows, groups] per group
//       zero_point         float32 like scale (asymmetric schemes only)
//       code_histogram     int64 counts of each code (qmin..qmax; fp8: all 256 bit patterns)
//       code_std           float32 [rows]: the unbiased std of each row's codes
//       original           float32 copy of the weight (only with includeOriginal)
//       attrs              dtype, shape, scheme (JSON), code_type, mse, sqnr_db, max_abs_error,
//                          cosine, clipped_fraction, recomputed_rows
//   /kept/<name>/original  the float32 values of kept or non-Linear tensors (only with includeOriginal)
//   /activations           reserved for calibration captures (empty for now)
// Datasets are chunked (about 1 MiB, whole rows) and gzip-compressed at `hdf5Gzip` (0: none).
class Hdf5Exporter final : public Exporter
{
public:
    explicit Hdf5Exporter(ExportOptions options);
    ~Hdf5Exporter() override;

    void begin(const ConversionPlan& plan, const std::filesystem::path& directory) override;
    PreparedTensor prepare(
        const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control = {}) const override;
    void commit(const PlannedTensor& tensor, PreparedTensor& prepared) override;
    void finish() override;
    std::vector<std::string> files() const override;

private:
    struct File;
    ExportOptions m_options;
    std::filesystem::path m_path;
    std::unique_ptr<File> m_file;
    std::vector<std::string> m_files;
};

} // namespace qs
