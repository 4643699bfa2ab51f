// SPDX-License-Identifier: GPL-3.0-or-later
#include "algo/smoothquant.h"

#include "error.h"
#include "select/selection_rule.h"

#include <ATen/ATen.h>

namespace qs {

std::vector<SmoothQuantMapping> defaultSmoothQuantMappings(const std::string& family)
{
    if (family == "llama")
        return { { { "re:.*q_proj", "re:.*k_proj", "re:.*v_proj" }, "re:.*input_layernorm" },
            { { "re:.*gate_proj", "re:.*up_proj" }, "re:.*post_attention_layernorm" } };
    if (family == "gpt2")
        return { { { "re:.*attn\\.c_attn" }, "re:.*\\.(ln_1|pre_ln_attn)$" },
            { { "re:.*mlp\\.c_fc" }, "re:.*\\.(ln_2|pre_ln_mlp)$" } };
    throw UsageError("SmoothQuant has no mappings for a " + family
        + " model: its layers' norms are applied after the residual (post-norm), so no norm feeds only Linear "
          "modules and folding the scales into one would change the model; give mappings in a recipe");
}

bool smoothQuantTargetMatches(const std::string& target, const std::string& path)
{
    SelectionRule rule;
    rule.syntax = RuleSyntax::CompressedTensors;
    rule.pattern = target;
    return RuleMatcher(rule).matches(path, false);
}

bool anyTargetMatches(const std::vector<std::string>& targets, const std::string& path)
{
    for (const std::string& t : targets) {
        if (smoothQuantTargetMatches(t, path))
            return true;
    }
    return false;
}

void ChannelRange::add(const at::Tensor& x)
{
    const at::Tensor rows = x.reshape({ -1, x.size(-1) }).to(at::kFloat);
    if (rows.size(0) == 0)
        return;
    const auto [lo, hi] = at::aminmax(rows, 0);
    if (m_min.defined()) {
        m_min = at::minimum(m_min, lo);
        m_max = at::maximum(m_max, hi);
    } else {
        m_min = lo;
        m_max = hi;
    }
}

at::Tensor smoothQuantScales(const at::Tensor& range, const std::vector<at::Tensor>& balanceWeights, double alpha)
{
    if (balanceWeights.empty())
        throw UsageError("SmoothQuant needs at least one balance layer");
    std::vector<at::Tensor> columns;
    for (const at::Tensor& w : balanceWeights) {
        if (w.dim() != 2 || w.size(1) != range.numel())
            throw UsageError("a SmoothQuant balance layer's weight has " + std::to_string(w.size(-1))
                + " input channels, the smooth layer " + std::to_string(range.numel()));
        columns.push_back(std::get<0>(w.to(at::kFloat).abs().max(0, true)));
    }
    const at::Tensor weightScales = 2.0 * std::get<0>(at::cat(columns, 0).max(0));
    const at::Tensor activation = range.to(at::kFloat);
    at::Tensor s = activation.pow(alpha) / weightScales.pow(1 - alpha);
    s = at::where(weightScales > 0, s, activation);
    return at::clamp_min(s, 1e-5);
}

} // namespace qs
