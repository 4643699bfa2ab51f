// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

namespace at {
class Tensor;
}

namespace qs {

class Checkpoint;
struct DequantRecipe;

// The float32 values a stored quantized weight stands for: codes (int8, fp8, or int4/int8
// unpacked from int32 words) minus the zero point, times the scale broadcast per tensor, per
// output channel or per input group, divided by a SmoothQuant scale when there is one.
// Codes of another rank (the nanoGPT fork's biases and activations) take one scale and zero
// point. Throws FormatError naming the tensor when the pieces do not fit together.
at::Tensor dequantizeWeight(const Checkpoint& checkpoint, const DequantRecipe& recipe);

} // namespace qs
