// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The activations a checkpoint stores itself: the nanoGPT fork's --store_activations buffers
// (`<block>.attn.attn_act_*` and `<block>.mlp.mlp_act_*` codes with their scale and zero point,
// the values of the last forward before the checkpoint was saved), measured as a calibration
// capture measures its points, so the Activations view and its HDF5 dump take them as they are.
#include "runtime/activation_stats.h"

#include <vector>

namespace qs {

class Checkpoint;
class Progress;

// One ActivationStats per stored point, in file order: `point` is the codes tensor's name
// ("transformer.h.0.attn.attn_act_input"), `kind` the fork's point name ("attn_act_input").
// Values are dequantized, (q - zero_point) * scale; the causal scores' masked upper triangle
// (-inf) is counted as non-finite and left out. The last dimension is the channel (for the
// attention scores and probabilities: the key position), the others are rows, batch first, so
// the sample rows are batch 0 (head 0) in token order. Empty for a checkpoint without any.
// Progress counts points; CancelledError when cancelled.
std::vector<ActivationStats> storedActivations(const Checkpoint& checkpoint, Progress& progress);

} // namespace qs
