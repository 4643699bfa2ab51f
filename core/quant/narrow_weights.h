// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

namespace at {
class Tensor;
}

namespace qs {

struct SchemeQuantized;

// fms-mo narrow-weight recomputation (`recompute_narrow_weights`, ../shared/reference/
// aiu_fms_mo.md section 2), applied to `q` (int8 codes of `rows`, an [out, in] float view):
// - per channel: when any row's int codes have an unbiased std below the scheme's threshold
//   (20), every row gets the SAWB clip 31.76 * rms - 35.04 * mean|w|; rows whose fp16 clip is
//   below their abs-max are requantized with scale clip/127 (round half to even, codes clamped
//   to [-127, 127]) and store that clip; the others keep their codes and abs-max clip;
// - per tensor: when the std of all codes is below the threshold, the codes become
//   round(254 * (clamp(w / clip, -1, 1) / 2 + 1/2)) - 127 with the SAWB clip (abs-max when it is
//   not positive), and the stored clip is min(fp16(clip), abs-max), as fms-mo writes them.
// Fills codeStdBefore/codeStdAfter and recomputedRows; updates codes, clip and scale.
void recomputeNarrowWeights(const at::Tensor& rows, SchemeQuantized& q);

} // namespace qs
