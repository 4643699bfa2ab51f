// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/gptq_calibration.h"

#include "algo/gptq.h"
#include "error.h"

#include <ATen/ATen.h>

namespace qs {

std::shared_ptr<LayerCalibration> gptqCalibration(int floatWeights, const QuantScheme& scheme,
    std::map<std::string, QuantScheme> moduleSchemes, std::set<std::string> modules, const GptqSettings& settings,
    std::shared_ptr<GptqOutcome> outcome, CancelToken cancel)
{
    GptqOptions options;
    options.blockSize = settings.blockSize;
    options.dampening = settings.dampening;
    options.actOrder = gptqActOrderFromName(settings.actOrder);
    options.staticGroups = settings.staticGroups;
    options.cancel = cancel;
    checkGptqScheme(scheme);
    for (const auto& [module, own] : moduleSchemes) {
        try {
            checkGptqScheme(own);
        } catch (const UsageError& e) {
            throw UsageError("GPTQ of " + module + ": " + e.reason());
        }
    }
    // Modules that read the very same input (q/k/v after the norm, gate/up) share one Hessian:
    // the sums would be equal, so it is accumulated once.
    struct Hessians
    {
        std::map<std::string, HessianAccumulator> sums;
        std::map<std::string, std::string> sameAs; // module -> the module whose sum it uses
        at::Tensor lastInput;
        std::string lastModule;
    };
    auto hessians = std::make_shared<Hessians>();
    auto c = std::make_shared<LayerCalibration>();
    c->floatWeights = floatWeights;
    c->collect.input = [hessians, modules](const std::string& module, const at::Tensor& x) {
        if (!modules.count(module))
            return x;
        Hessians& h = *hessians;
        const bool same = h.lastInput.defined() && h.lastInput.is_same(x);
        const auto alias = h.sameAs.find(module);
        if (alias != h.sameAs.end() || (same && !h.sums.count(module))) {
            if (!same || (alias != h.sameAs.end() && alias->second != h.lastModule))
                throw UsageError("GPTQ: " + module + " read another input than in the first calibration sample");
            h.sameAs[module] = h.lastModule;
            return x;
        }
        auto it = h.sums.find(module);
        if (it == h.sums.end())
            it = h.sums.emplace(module, HessianAccumulator(x.size(-1))).first;
        it->second.add(x);
        h.lastInput = x;
        h.lastModule = module;
        return x;
    };
    c->calibrate = [hessians, scheme, moduleSchemes = std::move(moduleSchemes), options, outcome](
                       const Block& floatLayer, Block& layer) {
        Hessians& hs = *hessians;
        hs.lastInput = at::Tensor();
        for (const Projection* p : floatLayer.projections()) {
            const auto alias = hs.sameAs.find(p->module);
            const auto h = hs.sums.find(alias != hs.sameAs.end() ? alias->second : p->module);
            if (h == hs.sums.end())
                continue;
            const auto own = moduleSchemes.find(p->module);
            try {
                const GptqResult r = gptqQuantize(
                    p->weight, h->second.hessian(), own != moduleSchemes.end() ? own->second : scheme, options);
                layer.replaceWeight(p->module, r.weight);
                if (outcome->keep)
                    outcome->keep(p->module, r, p->weight);
                outcome->loss[p->module] = r.loss;
                ++outcome->modules;
                if (!r.warning.empty())
                    outcome->warnings.push_back(p->module + ": " + r.warning);
            } catch (const UsageError& e) {
                throw UsageError("GPTQ of " + p->module + ": " + e.reason());
            }
        }
        hs.sums.clear();
        hs.sameAs.clear();
    };
    return c;
}

} // namespace qs
