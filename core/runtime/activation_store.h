// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Calibration captures (ActivationStats per capture point) in one HDF5 file, for the GUI to
// reopen and for analysis in Python:
//   /                       attrs: layout "quantscope-activations", layout_version 1 (int64), and
//                           every key of `attributes` as a string attribute (strings as they are,
//                           anything else JSON-dumped: model, data, seq_len, samples, scheme, ...)
//   /activations/           links kept in creation order: the points in the order given
//   /activations/<point>/   one group per ActivationStats, <point> its name verbatim (dots and
//                           all, e.g. "model.layers.0.self_attn.q_proj", "model.layers.0.attention.q")
//       attrs              kind (string), tokens, channels (int64), global_min, global_max,
//                          histogram_lo, histogram_hi (float64), histogram_below,
//                          histogram_above, histogram_non_finite (uint64)
//       min, max, abs_max, mean, sq_mean   float32 [channels] (only when channels > 0)
//       token_max          float32 [n]: per-token max |x|, in the order seen
//       histogram          int64 [bins]: the counts over [histogram_lo, histogram_hi]
//       sample             float32 [rows, channels]: the first rows seen (rows = sampleRows)
// Every dataset is chunked (about 1 MiB, whole rows) and gzip-compressed (level 4, shuffled).
// An empty vector writes no dataset at all; reading a missing dataset gives an empty vector
// (sampleRows 0 without a sample).
#include "runtime/activation_stats.h"

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <vector>

namespace qs {

// Writes `points` to `file` atomically: a temporary `<file>.tmp-<random>` in the same folder,
// renamed over `file` when complete and removed on any error. UsageError for a point name
// that is empty, holds '/', or repeats, for per-channel data whose size is not `channels`
// (or `sampleRows * channels` for the sample), and for an `attributes` that is neither an
// object nor null or that uses a reserved key (layout, layout_version). IoError naming `file`
// and the HDF5 call that failed otherwise.
void writeActivationsHdf5(
    const std::filesystem::path& file, const std::vector<ActivationStats>& points, const nlohmann::json& attributes);

// The points of a file written by writeActivationsHdf5, in the order they were written.
// IoError when the file cannot be opened or an HDF5 call fails; FormatError naming `file`
// when it is not HDF5, its layout attribute is not "quantscope-activations", its
// layout_version is newer, an attribute is missing or a dataset has the wrong rank, size or
// type.
std::vector<ActivationStats> readActivationsHdf5(const std::filesystem::path& file);

} // namespace qs
