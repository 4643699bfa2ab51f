// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Reads a model's weights for the runtime: float32, contiguous, owned copies (bf16/fp16 are
// converted, fp8 and stored quantized weights dequantized), each checked against the shape
// the config implies, and Linear weights passed through the fake-quantization transform.
#include "models/language_model.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace qs {

class WeightLoader
{
public:
    WeightLoader(const Checkpoint& checkpoint, const ModelConfig& config, WeightTransform transform = {});

    bool has(const std::string& name) const;
    // FormatError naming the tensor when it is missing or its shape differs from `shape`.
    at::Tensor tensor(const std::string& name, const std::vector<std::int64_t>& shape) const;
    // An undefined tensor when the checkpoint has no such tensor.
    at::Tensor optional(const std::string& name, const std::vector<std::int64_t>& shape) const;
    // `module`.weight [out, in] through the transform.
    at::Tensor linear(const std::string& module, std::int64_t out, std::int64_t in) const;
    // A Linear weight stored transposed ([in, out], GPT-2's Conv1D), returned as [out, in]
    // through the transform.
    at::Tensor conv1d(const std::string& module, std::int64_t in, std::int64_t out) const;
    // The transform applied to a weight that was read some other way (a slice of a fused one).
    at::Tensor transformed(const std::string& module, const at::Tensor& weight) const;
    bool transforms() const { return static_cast<bool>(m_transform); }

    // The tensors read so far, in order (what a block releases after loading).
    const std::vector<std::string>& read() const { return m_read; }

private:
    const Checkpoint& m_checkpoint;
    const ModelConfig& m_config;
    WeightTransform m_transform;
    mutable std::vector<std::string> m_read;
};

} // namespace qs
