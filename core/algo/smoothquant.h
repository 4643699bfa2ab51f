// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// SmoothQuant (Xiao et al. 2023) as llm-compressor's SmoothQuantModifier computes it: per
// mapping, a smooth layer (a norm) and the balance layers (the Linear modules that read its
// output); per input channel j, A_j = max - min of the norm's output over every calibration
// token, W_j = 2 * max |W[:, j]| over all balance layers, s_j = A_j^alpha / W_j^(1 - alpha) (A_j
// where W_j is 0), floored at 1e-5; the balance weights' columns are multiplied by s and the
// norm's weight and bias divided by it, which leaves the float model's function unchanged while
// moving activation outliers into the weights.
#include "algo/smoothquant_mapping.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace qs {

// llm-compressor's default mappings for the Llama group (q/k/v against input_layernorm, gate/up
// against post_attention_layernorm) and their equivalents for GPT-2 and nanoGPT (c_attn against
// ln_1, c_fc against ln_2, the fork's pre_ln_attn/pre_ln_mlp and split c_attn_q/k/v). UsageError
// for a family without a norm that feeds only Linear modules (BERT and RoBERTa are post-norm).
std::vector<SmoothQuantMapping> defaultSmoothQuantMappings(const std::string& family);

// Whether a target matches a module path (one of them: any). UsageError for an invalid regex.
bool smoothQuantTargetMatches(const std::string& target, const std::string& path);
bool anyTargetMatches(const std::vector<std::string>& targets, const std::string& path);

// The running per-channel minimum and maximum of a norm's output.
class ChannelRange
{
public:
    void add(const at::Tensor& x); // [..., channels], any float type
    bool empty() const { return !m_min.defined(); }
    const at::Tensor& minimum() const { return m_min; } // float32 [channels]
    const at::Tensor& maximum() const { return m_max; }

private:
    at::Tensor m_min, m_max;
};

// s from the activation range (max - min, float32 [in]) and the balance weights ([out_i, in]
// each), as above.
at::Tensor smoothQuantScales(const at::Tensor& range, const std::vector<at::Tensor>& balanceWeights, double alpha);

} // namespace qs
