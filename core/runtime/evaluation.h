// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// One evaluation of a checkpoint on a data file, float and (optionally) fake-quantized with a
// scheme and keep selection: what the GUI's Evaluate tab and `quantscope-cli eval` run.
// Plain data in and out (no libtorch in this header).
#include "algo/algorithm_settings.h"
#include "algo/smoothquant_mapping.h"
#include "quant/quant_scheme.h"
#include "runtime/divergence.h"
#include "runtime/spinquant_report.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qs {

class Checkpoint;
class Progress;

class Rotation;
struct ModelConfig;
struct PerplexityOptions;

struct EvaluationRequest
{
    std::filesystem::path data; // see loadEvalTokens
    int seqLen = 256;
    // "overlap", "blocks" (fms-mo's formula) or "masked" (encoders); empty: overlap for a
    // decoder, masked for an encoder.
    std::string protocol;
    int maxWindows = 0;
    std::optional<QuantScheme> scheme; // none: the float model only
    std::set<std::string> kept; // modules left in full precision
    std::map<std::string, QuantScheme> moduleSchemes; // quantize rules with their own preset
    // Overrides the scheme's activation mode (see activationModes()); empty: the scheme's.
    std::string activations;
    // Static activations: the ranges are measured on this many windows of seqLen tokens of the
    // calibration data (the evaluation data when empty), in order from its start, on the model
    // with quantized weights (for an encoder, on the windows as they are, without masks).
    std::filesystem::path calibrationData;
    int calibrationSamples = 8;
    int calibrationSeqLen = 0; // tokens per calibration window; 0: seqLen
    // GPTQ (llm-compressor's GPTQModifier) on the calibration windows before evaluating, layer
    // by layer: block size, dampening fraction, activation order (static, none); with
    // propagateError the calibration samples go on through the GPTQ'd layers (llm-compressor's
    // default), otherwise through the float ones.
    bool gptq = false;
    int gptqBlockSize = 128;
    double gptqDampening = 0.01;
    std::string gptqActOrder = "static";
    bool propagateError = true;
    // SmoothQuant (llm-compressor's SmoothQuantModifier) with this smoothing strength (alpha),
    // layer by layer on the calibration windows before GPTQ and the static ranges; mappings
    // empty: the family's defaults. With an fms-mo scheme (aiu-int8), fms-mo's SmoothQuant as the
    // AIU export writes it instead (the weight quantized as W * s, the input divided by s). Off
    // when unset.
    std::optional<double> smoothQuant;
    std::vector<SmoothQuantMapping> smoothQuantMappings;
    std::vector<std::string> smoothQuantIgnore;
    // AWQ (llm-compressor's AWQ transform) before GPTQ or the round to nearest, for weight-only
    // schemes; mappings empty: the family's defaults. Not with SmoothQuant (both rescale).
    // Rotations fused into the weights first (runtime/rotation.h): "hadamard", "random" or "" (none).
    std::string rotation;
    std::uint64_t rotationSeed = 0;
    bool rotationR2 = true;
    bool rotationOnline = false; // the online Hadamard on the down projection's input
    // SpinQuant: R1 and R2 learned from that rotation on the calibration windows, with the scheme's
    // quantization in the loss (weights float when GPTQ follows), before they are fused.
    bool spinQuant = false;
    int spinQuantSteps = 100;
    double spinQuantLr = 1.5;
    bool awq = false;
    std::vector<SmoothQuantMapping> awqMappings;
    std::vector<std::string> awqIgnore;
    std::string awqDuoScaling = "true"; // true, false, both
    int awqGrid = 20;
    bool awqClip = false; // llm-awq's clip search after the scales (round to nearest only)
    // Masked-LM scoring: the mask token (-1: the tokenizer's) and the masking stride.
    std::int64_t maskToken = -1;
    int maskEvery = 7;
    // The block runner's memory: resident bytes it plans for (0: what the machine can spare) and
    // where hidden states beyond that go (empty: the temporary folder).
    std::uint64_t maxMemory = 0;
    std::filesystem::path spillDirectory;
    // Set by the rotation (the model's down projections rotate their input at run time).
    std::shared_ptr<const Rotation> downInputRotation;
};

// How the request's data is scored for this model (protocol, windows, the masked-LM mask token);
// UsageError when the protocol does not fit the model.
PerplexityOptions evaluationPerplexityOptions(
    const Checkpoint& checkpoint, const ModelConfig& config, const EvaluationRequest& request);

// The request's algorithm fields from the settings an llm-compressor recipe (or the options) give.
void applyAlgorithms(EvaluationRequest& request, const AlgorithmSettings& algorithms);

struct EvaluationReport
{
    std::string modelType;
    std::string protocol;
    std::int64_t dataTokens = 0; // ids in the data
    std::int64_t tokens = 0; // predicted tokens
    std::int64_t forwardTokens = 0; // tokens run through one model (masked scoring runs each window K times)
    int windows = 0;
    double floatPerplexity = 0;
    double floatMeanNll = 0;
    double seconds = 0; // the block runner's run: loading every block, the layers and the head
    double blockLoadSeconds = 0; // of which reading and converting block weights
    double quantizeSeconds = 0; // and fake-quantizing them (with a scheme)
    double headSeconds = 0; // the head and the scores
    std::uint64_t maxMemory = 0; // the limit the run planned for
    std::uint64_t hiddenBytes = 0; // hidden states of every stream, and those spilled to disk
    std::uint64_t spilledBytes = 0;
    std::uint64_t largestBlockBytes = 0; // float32 weights of the largest layer
    std::uint64_t peakRssBytes = 0; // of the process, at the end
    // With a scheme:
    bool quantized = false;
    std::string schemeName;
    std::string activations; // the activation mode simulated
    // Linear (and Conv1D) modules quantized: the model tree's quantizable ones that are not kept.
    int quantizedModules = 0;
    int calibrationWindows = 0; // static activations: windows the ranges were measured on
    double perplexity = 0; // the fake-quantized model's
    double meanNll = 0;
    double klDivergence = 0; // KL(float || quantized) per predicted token
    double top1Agreement = 0;
    std::vector<std::string> algorithms; // what ran before the evaluation: "rotation", "smoothquant", "awq", "gptq"
    std::string rotation; // "R1 hadamard 64, R2 hadamard 16", when rotated
    std::optional<SpinQuantReport> spinQuant; // when the rotation was learned
    double smoothQuantAlpha = 0;
    int smoothedNorms = 0; // norms SmoothQuant folded scales into (and their balance layers)
    int smoothedModules = 0;
    std::map<std::string, double> gptqLoss; // per module GPTQ quantized
    std::vector<std::string> warnings; // modules GPTQ had to round to nearest, and why
    // Per layer, in order, and per Linear module of the layers: see runtime/divergence.h.
    std::vector<BlockDivergence> blocks;
    std::vector<ModuleDivergence> modules;
};

// Runs the float model (and with a scheme the fake-quantized one beside it) on the data with the
// block runner, in bounded memory: one layer's weights at a time, every window through it.
// Static activation ranges are measured per block, on the calibration windows run through the
// block's quantized weights, just before the evaluation windows. Progress names the block;
// cancellation stops within a block. Errors name the file, tensor or block.
EvaluationReport evaluateCheckpoint(const Checkpoint& checkpoint, const EvaluationRequest& request, Progress& progress);

} // namespace qs
