// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/smoothquant_calibration.h"

#include "error.h"
#include "export/aiu_exporter.h"
#include "models/model_config.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace qs {
namespace {

std::string familyName(ModelFamily f)
{
    switch (f) {
    case ModelFamily::Llama:
        return "llama";
    case ModelFamily::Gpt2:
        return "gpt2";
    case ModelFamily::Bert:
        break;
    }
    return "bert";
}

std::string describe(const SmoothQuantMapping& m)
{
    std::string out = "[[";
    for (std::size_t i = 0; i < m.balance.size(); ++i)
        out += (i ? ", \"" : "\"") + m.balance[i] + "\"";
    return out + "], \"" + m.smooth + "\"]";
}

} // namespace

SmoothQuantSettings checkedSmoothQuantSettings(const ModelBlocks& model, SmoothQuantSettings settings)
{
    if (!(settings.alpha >= 0 && settings.alpha <= 1))
        throw UsageError("SmoothQuant's smoothing strength (alpha) must lie in [0, 1], not " + std::to_string(settings.alpha));
    if (settings.mappings.empty())
        settings.mappings = defaultSmoothQuantMappings(familyName(model.config().family));
    else if (model.config().family == ModelFamily::Bert)
        defaultSmoothQuantMappings("bert"); // the same error: a post-norm model has nothing to smooth into
    // Module paths of the checkpoint's 1-D (norm) and 2-D (Linear) weights.
    std::set<std::string> norms, linears;
    for (const TensorInfo& t : model.checkpoint().tensors()) {
        const auto dot = t.name.rfind('.');
        if (dot == std::string::npos)
            continue;
        const std::string module = t.name.substr(0, dot), param = t.name.substr(dot + 1);
        if ((param == "weight" || param == "gain") && t.shape.size() == 1)
            norms.insert(module);
        else if (param == "weight" && t.shape.size() == 2)
            linears.insert(module);
    }
    for (const SmoothQuantMapping& m : settings.mappings) {
        if (m.balance.empty())
            throw UsageError("the SmoothQuant mapping " + describe(m) + " names no balance layers");
        bool smooth = false, balance = false;
        for (const std::string& n : norms)
            smooth = smooth || smoothQuantTargetMatches(m.smooth, n);
        for (const std::string& l : linears)
            balance = balance || anyTargetMatches(m.balance, l);
        if (!smooth)
            throw UsageError("the SmoothQuant mapping " + describe(m) + ": its smooth layer matches no norm of "
                + model.checkpoint().path().string());
        if (!balance)
            throw UsageError("the SmoothQuant mapping " + describe(m) + ": its balance layers match no Linear module of "
                + model.checkpoint().path().string());
    }
    return settings;
}

std::shared_ptr<LayerCalibration> smoothQuantCalibration(int floatWeights, WeightTransform quantize,
    SmoothQuantSettings settings, std::shared_ptr<SmoothQuantOutcome> outcome)
{
    auto ranges = std::make_shared<std::map<std::string, ChannelRange>>();
    // The balance layers all read the norm's output: its range is recorded on the first one.
    std::vector<std::string> balanceTargets;
    for (const SmoothQuantMapping& m : settings.mappings) {
        if (!m.balance.empty())
            balanceTargets.push_back(m.balance.front());
    }
    auto c = std::make_shared<LayerCalibration>();
    c->floatWeights = floatWeights;
    c->propagateError = false; // the float layer's outputs: SmoothQuant's own pass is on the float model
    // The norm's output is what its balance layers read (before any input quantization).
    c->collect.input = [ranges, balanceTargets](const std::string& module, const at::Tensor& x) {
        if (anyTargetMatches(balanceTargets, module))
            (*ranges)[module].add(x);
        return x;
    };
    c->calibrate = [ranges, quantize = std::move(quantize), settings = std::move(settings), outcome](
                       Block& floatLayer, Block& layer) {
        for (const SmoothQuantMapping& m : settings.mappings) {
            std::vector<const NormWeights*> smooth;
            for (const NormWeights* n : floatLayer.smoothableNorms()) {
                if (smoothQuantTargetMatches(m.smooth, n->module) && !anyTargetMatches(settings.ignore, n->module))
                    smooth.push_back(n);
            }
            std::vector<const Projection*> balance;
            for (const Projection* p : floatLayer.projections()) {
                if (anyTargetMatches(m.balance, p->module))
                    balance.push_back(p);
            }
            if (smooth.empty() || balance.empty())
                continue;
            if (smooth.size() > 1)
                throw UsageError("the SmoothQuant mapping " + describe(m) + " matches " + std::to_string(smooth.size())
                    + " norms of " + floatLayer.name() + " (" + smooth[0]->module + ", " + smooth[1]->module
                    + "); a mapping has one smooth layer");
            auto range = ranges->end();
            for (const Projection* p : balance) {
                if (range == ranges->end() || range->second.empty())
                    range = ranges->find(p->module);
            }
            if (range == ranges->end() || range->second.empty())
                throw UsageError("SmoothQuant: no calibration token reached " + balance[0]->module);
            std::vector<at::Tensor> weights;
            for (const Projection* p : balance)
                weights.push_back(p->weight);
            const std::string norm = smooth[0]->module;
            const at::Tensor s
                = smoothQuantScales(range->second.maximum() - range->second.minimum(), weights, settings.alpha);
            floatLayer.divideNorm(norm, s);
            if (&layer != &floatLayer)
                layer.divideNorm(norm, s);
            for (const Projection* p : balance) {
                const std::string module = p->module;
                const at::Tensor smoothed = (p->weight * s.reshape({ 1, -1 })).contiguous();
                if (&layer != &floatLayer)
                    layer.replaceWeight(module, quantize ? quantize(module, smoothed) : smoothed);
                floatLayer.replaceWeight(module, smoothed);
                outcome->smoothOf[module] = norm;
            }
            outcome->scales[norm] = s;
        }
        ranges->clear();
    };
    return c;
}

std::shared_ptr<LayerCalibration> fmsMoSmoothQuantCalibration(int floatWeights, const std::string& modelType,
    std::set<std::string> quantized, QuantScheme scheme, double alpha,
    std::function<void(Block& layer, const FmsMoSmoothing&)> apply)
{
    const std::vector<std::string> fragments = aiuSmoothQuantLayerNames(modelType);
    if (fragments.empty())
        throw UsageError("fms-mo's SmoothQuant has no layer list for model type '" + modelType
            + "' (llama, granite, gpt_bigcode, bert, roberta)");
    if (!(alpha >= 0 && alpha <= 1))
        throw UsageError("SmoothQuant's alpha must lie in [0, 1], not " + std::to_string(alpha));
    auto smoothed = [fragments, quantized = std::move(quantized)](const std::string& module) {
        return quantized.count(module) > 0 && std::any_of(fragments.begin(), fragments.end(), [&](const std::string& f) {
            return module.find(f) != std::string::npos;
        });
    };
    auto absMax = std::make_shared<std::map<std::string, at::Tensor>>();
    auto c = std::make_shared<LayerCalibration>();
    c->floatWeights = floatWeights;
    c->propagateError = false; // get_act_scales runs the float model
    c->collect.input = [absMax, smoothed](const std::string& module, const at::Tensor& x) {
        if (smoothed(module)) {
            const at::Tensor a = x.reshape({ -1, x.size(-1) }).abs().amax(0).to(at::kFloat);
            at::Tensor& m = (*absMax)[module];
            m = m.defined() ? at::maximum(m, a) : a;
        }
        return x;
    };
    scheme.recomputeNarrowWeights = false;
    c->calibrate = [absMax, smoothed, scheme, alpha, apply = std::move(apply)](Block& floatLayer, Block& layer) {
        for (const Projection* p : floatLayer.projections()) {
            const auto a = absMax->find(p->module);
            if (!smoothed(p->module) || a == absMax->end() || a->second.sum().item<double>() == 0)
                continue;
            FmsMoSmoothing f;
            f.module = p->module;
            f.scale = a->second.pow(alpha) / p->weight.abs().amax(0).clamp_min(1e-5).pow(1 - alpha);
            if (!(f.scale.abs().max().item<double>() <= 65504.0))
                throw FormatError("its SmoothQuant factors exceed float16's range, which fms-mo refuses too",
                    ErrorContext { {}, p->module + ".weight", {} });
            f.scaledWeight = (p->weight * f.scale.reshape({ 1, -1 })).contiguous();
            f.quantized = quantizeWithScheme(f.scaledWeight, scheme);
            apply(layer, f);
        }
        absMax->clear();
    };
    return c;
}

} // namespace qs
