// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// AWQ (Lin et al. 2024) as llm-compressor's AWQ transform computes it. Per mapping, a smooth layer
// (a norm, or a Linear whose output feeds the balance layers) and its balance layers: the mean
// |x| per input channel of the balance layers' input over every calibration token; with duo
// scaling, the mean per input channel of |W| normalised by the max of its quantization chunk
// (group, row or tensor) over every row of every balance layer; then a grid of candidate scales
// s = x_mean^r / (w_mean^(1-r) + 1e-4) (duo) or x_mean^r, clamped at 1e-4 and divided by
// sqrt(max(s) min(s)). Each candidate replaces the balance weights by Q(W s) / s (the scheme's
// round to nearest, scales from the scaled weight) and the parent (the module holding all the
// balance layers) is run again on the calibration inputs; the lowest mean squared error against
// its float output wins. The winner is folded in: W s into the balance layers' columns, 1/s into
// the smooth layer (a norm's weight, or the last len(s) output rows and bias of a Linear). AWQ only
// rescales: the quantization (round to nearest or GPTQ) follows with the same scheme.
#include "algo/smoothquant_mapping.h"
#include "quant/quant_scheme.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace qs {

// llm-compressor's default mappings (Llama, Mistral, Qwen, Granite): q/k/v against
// input_layernorm, o against v (skipped where grouped-query shapes do not fit, awqMappingFits),
// gate/up against post_attention_layernorm, down against up. UsageError for another family.
std::vector<SmoothQuantMapping> defaultAwqMappings(const std::string& family);

// Whether a Linear smooth layer with `smoothOut` output features can be scaled against a balance
// layer reading `balanceIn` features (v_proj -> o_proj under grouped-query attention cannot).
bool awqMappingFits(std::int64_t smoothOut, std::int64_t balanceIn);

// duo_scaling: on (llm-compressor's default; the grid also holds the identity), off (activation
// scales only) or both (half the grid each way).
enum class AwqDuoScaling : std::uint8_t
{
    On,
    Off,
    Both,
};
AwqDuoScaling awqDuoScalingFromName(const std::string& name); // "true"/"on", "false"/"off", "both"

struct AwqCandidate
{
    double ratio = 0;
    bool duo = false;
};
// The grid search's candidates in llm-compressor's order (n_grid 20 by default).
std::vector<AwqCandidate> awqGrid(int nGrid, AwqDuoScaling duo);

// The running sum of |x| per channel and the token count: x_mean.
class ChannelAbsMean
{
public:
    void add(const at::Tensor& x); // [..., channels], any float type
    bool empty() const { return m_count == 0; }
    at::Tensor mean() const; // float32 [channels]

private:
    at::Tensor m_sum;
    std::int64_t m_count = 0;
};

// w_mean over the balance weights ([out_i, in] each), chunked as `scheme` quantizes them.
at::Tensor awqWeightMeans(const std::vector<at::Tensor>& balanceWeights, const QuantScheme& scheme);

// One candidate's scales, float32 [in]; inf and NaN become 1.
at::Tensor awqCandidateScales(const at::Tensor& xMean, const at::Tensor& wMean, const AwqCandidate& c);

// Q(W s) / s with the scheme's round to nearest (float32 [out, in]).
at::Tensor awqScaledQuantized(const at::Tensor& weight, const at::Tensor& scales, const QuantScheme& scheme);

struct AwqSearchResult
{
    at::Tensor scales; // the winner, float32 [in]
    AwqCandidate best;
    double bestLoss = 0;
    double initialLoss = 0; // the first candidate's (the identity with duo scaling on)
    std::vector<double> losses; // per candidate, in grid order
};

// The grid search. `loss(weights)` runs the parent with the balance layers' weights replaced by
// `weights` (in the order of balanceWeights) and returns the mean squared error of its output
// against the float output. UsageError when no candidate gives a finite loss.
AwqSearchResult awqSearch(const at::Tensor& xMean, const std::vector<at::Tensor>& balanceWeights,
    const QuantScheme& scheme, const std::vector<AwqCandidate>& grid,
    const std::function<double(const std::vector<at::Tensor>&)>& loss);

// llm-awq's clip search (auto_clip_layer), the reference AWQ's step after the scales: per output
// row and quantization group (the whole row per channel), the clip max|w| (1 - i / nGrid) for i <
// maxShrink * nGrid whose clamped weight, quantized with the scheme, gives the lowest mean over the
// sampled tokens of the squared error of that group's partial output x_g . w_g; the weight clamped
// to the winners. `inputs` [tokens, in] are the layer's inputs (every tokens / sampleTokens-th is
// used), `weight` [out, in]. UsageError for a per-tensor scheme or mismatched shapes.
struct AwqClipOptions
{
    int nGrid = 20;
    double maxShrink = 0.5;
    std::int64_t sampleTokens = 512;
    std::int64_t rowBatch = 256; // output rows searched together (memory: rows x tokens x groups)
};
at::Tensor awqClip(const at::Tensor& weight, const at::Tensor& inputs, const QuantScheme& scheme,
    const AwqClipOptions& options = {});

// The smooth layer divided by s: a norm's weight [in] (or its bias), or the last len(s) rows of a
// Linear's weight [out, in] (or its bias [out]).
at::Tensor awqSmoothLayerDivided(const at::Tensor& smoothWeight, const at::Tensor& scales);

} // namespace qs
