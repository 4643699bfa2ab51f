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
    auto hessians = std::make_shared<std::map<std::string, HessianAccumulator>>();
    auto c = std::make_shared<LayerCalibration>();
    c->floatWeights = floatWeights;
    c->collect.input = [hessians, modules](const std::string& module, const at::Tensor& x) {
        if (modules.count(module)) {
            auto it = hessians->find(module);
            if (it == hessians->end())
                it = hessians->emplace(module, HessianAccumulator(x.size(-1))).first;
            it->second.add(x);
        }
        return x;
    };
    c->calibrate = [hessians, scheme, moduleSchemes = std::move(moduleSchemes), options, outcome](
                       const Block& floatLayer, Block& layer) {
        for (const Projection* p : floatLayer.projections()) {
            const auto h = hessians->find(p->module);
            if (h == hessians->end())
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
            hessians->erase(h);
        }
    };
    return c;
}

} // namespace qs
