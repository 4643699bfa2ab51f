// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/export_calibration.h"

#include "error.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "models/block.h"
#include "models/model_config.h"
#include "quant/calibrated_tensors.h"
#include "runtime/block_runner.h"
#include "runtime/eval_data.h"
#include "runtime/awq_calibration.h"
#include "runtime/fake_quant.h"
#include "runtime/gptq_calibration.h"
#include "runtime/memory.h"
#include "runtime/smoothquant_calibration.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <functional>
#include <map>

namespace qs {
namespace {

std::vector<std::vector<std::int64_t>> samplesOf(
    const Checkpoint& checkpoint, const ModelConfig& config, const ExportCalibrationRequest& request)
{
    if (request.seqLen < 1 || request.samples < 1)
        throw UsageError("the calibration needs at least one sample of at least one token");
    if (request.seqLen > config.maxPositions)
        throw UsageError("calibration samples of " + std::to_string(request.seqLen) + " tokens exceed the model's "
            + std::to_string(config.maxPositions) + " positions (--calibration-seq-len)");
    const std::vector<std::int64_t> ids = loadEvalTokens(request.data, checkpoint, config.vocabSize);
    const auto length = static_cast<std::size_t>(request.seqLen);
    if (ids.size() < length)
        throw UsageError("the calibration data holds " + std::to_string(ids.size())
                + " tokens, fewer than one sample of " + std::to_string(length) + " (--calibration-seq-len)",
            ErrorContext { request.data.string(), {}, {} });
    std::vector<std::vector<std::int64_t>> samples;
    for (std::size_t begin = 0; begin + length <= ids.size() && static_cast<int>(samples.size()) < request.samples;
         begin += length)
        samples.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(begin),
            ids.begin() + static_cast<std::ptrdiff_t>(begin + length));
    return samples;
}

// The name under which the checkpoint stores a norm's weight (nanoGPT's fork: `gain`).
const TensorInfo* normTensor(const Checkpoint& c, const std::string& module)
{
    if (const TensorInfo* t = c.find(module + ".weight"))
        return t;
    return c.find(module + ".gain");
}

// Keeps the float layer's norms named in `rescaled` (their weight and bias) and its Linear modules
// in `linears` (weight and bias) for the export: what SmoothQuant and AWQ changed. Returns the norms.
int keepRescaled(const Checkpoint& checkpoint, const Block& floatLayer, const std::map<std::string, at::Tensor>& rescaled,
    const std::function<bool(const std::string&)>& linears, CalibratedTensors& out)
{
    int norms = 0;
    for (const NormWeights* n : floatLayer.smoothableNorms()) {
        if (!rescaled.count(n->module))
            continue;
        const TensorInfo* w = normTensor(checkpoint, n->module);
        if (!w)
            throw FormatError("a rescaled norm whose weight the checkpoint does not name",
                ErrorContext { checkpoint.path().string(), n->module, {} });
        out.replace(*w, n->weight);
        if (const TensorInfo* b = checkpoint.find(n->module + ".bias"); b && n->bias.defined())
            out.replace(*b, n->bias);
        ++norms;
    }
    for (const Projection* p : floatLayer.projections()) {
        if (!linears(p->module))
            continue;
        out.replace(checkpoint.info(p->module + ".weight"), p->weight);
        if (const TensorInfo* b = checkpoint.find(p->module + ".bias"); b && p->bias.defined())
            out.replace(*b, p->bias);
    }
    return norms;
}

// SmoothQuant's stream, keeping the smoothed norms and balance weights of each layer.
std::shared_ptr<LayerCalibration> keptSmoothing(const Checkpoint& checkpoint, int floatWeights,
    const WeightTransform& quantize, SmoothQuantSettings settings, CalibratedTensors& out, int& smoothedNorms)
{
    auto outcome = std::make_shared<SmoothQuantOutcome>();
    std::shared_ptr<LayerCalibration> c = smoothQuantCalibration(floatWeights, quantize, std::move(settings), outcome);
    auto inner = c->calibrate;
    c->calibrate = [inner, outcome, &checkpoint, &out, &smoothedNorms](Block& floatLayer, Block& layer) {
        inner(floatLayer, layer);
        smoothedNorms += keepRescaled(checkpoint, floatLayer, outcome->scales,
            [&](const std::string& module) { return outcome->smoothOf.count(module) > 0; }, out);
        outcome->scales.clear();
        outcome->smoothOf.clear();
    };
    return c;
}

// AWQ's stream, keeping the rescaled norms and Linear weights of each layer (the quantization that
// follows reads them).
std::shared_ptr<LayerCalibration> keptAwq(const Checkpoint& checkpoint, int floatWeights,
    const WeightTransform& quantize, const ExportCalibrationRequest& request, AwqSettings settings,
    CalibratedTensors& out, std::shared_ptr<AwqOutcome> outcome, CancelToken cancel)
{
    auto schemeOf = [scheme = request.scheme, own = request.moduleSchemes, quantized = request.quantized](
                        const std::string& module) -> std::optional<QuantScheme> {
        if (!quantized.count(module))
            return std::nullopt;
        const auto it = own.find(module);
        return it != own.end() ? it->second : scheme;
    };
    std::shared_ptr<LayerCalibration> c
        = awqCalibration(floatWeights, quantize, schemeOf, std::move(settings), outcome, cancel);
    auto inner = c->calibrate;
    c->calibrate = [inner, outcome, &checkpoint, &out](Block& floatLayer, Block& layer) {
        inner(floatLayer, layer);
        keepRescaled(checkpoint, floatLayer, outcome->scales,
            [&](const std::string& module) { return outcome->changedLinears.count(module) > 0; }, out);
        for (const auto& [module, weight] : outcome->clipped) // the clip search's weights, not just scaled ones
            out.replace(checkpoint.info(module + ".weight"), weight);
    };
    return c;
}

// What the consumer divides the input by: abs-max over the calibration tokens / 127.5 (int8,
// compressed-tensors' symmetric min-max observer; / 127 under fms-mo's convention) or / 448 (fp8
// e4m3; 240 on Neuron).
float inputScaleOf(const QuantScheme& scheme, float absMax)
{
    float divisor = 127.5F;
    if (scheme.activations == "fp8-tensor-static")
        divisor = scheme.convention == ScaleConvention::Nxd ? 240.0F : 448.0F;
    else if (scheme.convention == ScaleConvention::FmsMo)
        divisor = 127.0F;
    return std::max(absMax / divisor, FLT_EPSILON);
}

} // namespace

std::vector<std::vector<std::int64_t>> exportCalibrationSamples(
    const Checkpoint& checkpoint, const ExportCalibrationRequest& request)
{
    return samplesOf(checkpoint, modelConfigFromJson(checkpoint.config()), request);
}

bool exportNeedsCalibration(const QuantScheme& scheme, const AlgorithmSettings& algorithms)
{
    return algorithms.any() || isStaticActivations(scheme.activations);
}

ExportCalibrationReport calibrateForExport(
    const Checkpoint& checkpoint, const ExportCalibrationRequest& request, CalibratedTensors& out, Progress& progress)
{
    const auto started = std::chrono::steady_clock::now();
    const ModelConfig config = modelConfigFromJson(checkpoint.config());
    const std::unique_ptr<ModelBlocks> blocks = ModelBlocks::open(checkpoint, config);
    const AlgorithmSettings& a = request.algorithms;
    ExportCalibrationReport report;
    std::vector<std::vector<std::int64_t>> samples = samplesOf(checkpoint, config, request);
    report.samples = static_cast<int>(samples.size());
    for (const auto& s : samples)
        report.tokens += static_cast<std::int64_t>(s.size());

    BlockRunOptions runOptions;
    runOptions.maxMemory = request.maxMemory;
    runOptions.spillDirectory = request.spillDirectory;
    BlockRunner runner(*blocks, runOptions);
    const int floatWeights = runner.addWeights();
    const WeightTransform fakeQuantize = fakeQuantizeWeights(request.scheme, {}, request.moduleSchemes);
    const WeightTransform quantize = [fakeQuantize, quantized = request.quantized](
                                         const std::string& module, const at::Tensor& w) {
        return quantized.count(module) ? fakeQuantize(module, w) : w;
    };
    const int quantizedWeights = runner.addWeights(quantize);
    const int set = runner.addSequences(std::move(samples));
    if (a.smoothQuant && request.fmsMoSmoothQuant) {
        if (a.gptq)
            throw UsageError("fms-mo's SmoothQuant (the AIU export) goes without GPTQ: its DQ flow rounds W * s");
        if (request.scheme.recomputeNarrowWeights)
            report.warnings.push_back("narrow-weight recomputation is not applied to the SmoothQuant layers (fms-mo "
                                      "refuses the combination)");
        RunnerStream smooth { floatWeights, set, {}, -1, false, nullptr };
        smooth.calibration = fmsMoSmoothQuantCalibration(floatWeights, checkpoint.modelType(), request.quantized,
            request.scheme, *a.smoothQuant, [&out, &report](Block&, const FmsMoSmoothing& f) {
                out.setQuantized(f.module + ".weight", f.quantized, f.scaledWeight);
                out.setSmoothScale(f.module, f.scale);
                ++report.smoothedModules;
            });
        runner.addStream(std::move(smooth));
        report.algorithms.emplace_back("smoothquant");
    } else if (a.smoothQuant) {
        SmoothQuantSettings settings;
        settings.alpha = *a.smoothQuant;
        settings.mappings = a.smoothQuantMappings;
        settings.ignore = a.smoothQuantIgnore;
        settings = checkedSmoothQuantSettings(*blocks, std::move(settings));
        report.mappings = settings.mappings;
        RunnerStream smooth { quantizedWeights, set, {}, -1, false, nullptr };
        smooth.calibration
            = keptSmoothing(checkpoint, floatWeights, quantize, std::move(settings), out, report.smoothedNorms);
        runner.addStream(std::move(smooth));
        report.algorithms.emplace_back("smoothquant");
    }
    auto awq = std::make_shared<AwqOutcome>();
    if (a.awq) {
        AwqSettings settings = awqSettingsFor(request.scheme, a.smoothQuant.has_value(), a.awqMappings, a.awqIgnore,
            a.awqDuoScaling, a.awqGrid, request.maxMemory, request.spillDirectory);
        if (a.awqClip && a.gptq)
            throw UsageError("AWQ's clip search goes with round to nearest: GPTQ chooses its own codes");
        settings.clip = a.awqClip;
        settings = checkedAwqSettings(*blocks, std::move(settings));
        report.awqMappings = settings.mappings;
        RunnerStream stream { quantizedWeights, set, {}, -1, false, nullptr };
        stream.calibration
            = keptAwq(checkpoint, floatWeights, quantize, request, std::move(settings), out, awq, progress.token());
        runner.addStream(std::move(stream));
        report.algorithms.emplace_back("awq");
    }
    const bool ranged = isStaticActivations(request.scheme.activations);
    auto ranges = std::make_shared<ActivationRanges>();
    auto gptq = std::make_shared<GptqOutcome>();
    if (a.gptq || ranged) {
        RunnerStream stream { quantizedWeights, set, {}, -1, false, nullptr };
        if (ranged)
            stream.hooks.input = activationRangeObserver(ranges);
        if (a.gptq) {
            GptqSettings settings;
            settings.blockSize = a.gptqBlockSize;
            settings.dampening = a.gptqDampening;
            settings.actOrder = a.gptqActOrder;
            gptq->keep = [&out](const std::string& module, const GptqResult& r, const at::Tensor& floatWeight) {
                out.setQuantized(module + ".weight", r.quantized, floatWeight, r.weight, r.groupIndex);
            };
            stream.calibration = gptqCalibration(
                floatWeights, request.scheme, request.moduleSchemes, request.quantized, settings, gptq, progress.token());
            stream.calibration->propagateError = a.propagateError;
            report.algorithms.emplace_back("gptq");
        }
        runner.addStream(std::move(stream));
    }
    runner.run(progress);
    if (ranged) {
        for (const std::string& module : request.quantized) {
            const auto it = ranges->find(module);
            if (it != ranges->end()) {
                out.setInputScale(module, inputScaleOf(request.scheme, it->second));
                ++report.inputScales;
            }
        }
        report.algorithms.emplace_back("static_activations");
    }
    report.gptqLoss = gptq->loss;
    report.warnings = gptq->warnings;
    report.awq = awq->mappings;
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report.peakRssBytes = peakRssBytes();
    return report;
}

} // namespace qs
