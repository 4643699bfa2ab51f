#pragma once

// One evaluation of a checkpoint on a data file, float and (optionally) fake-quantized with a
// scheme and keep selection: what the GUI's Evaluate tab and `quantscope-cli eval` run.
// Plain data in and out (no libtorch in this header).
#include "quant/quant_scheme.h"

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace qs {

class Checkpoint;
class Progress;

struct EvaluationRequest
{
    std::filesystem::path data; // see loadEvalTokens
    int seqLen = 256;
    bool blocks = false; // fms-mo's block protocol instead of overlapping windows
    int maxWindows = 0;
    std::optional<QuantScheme> scheme; // none: the float model only
    std::set<std::string> kept; // modules left in full precision
    std::map<std::string, QuantScheme> moduleSchemes; // quantize rules with their own preset
};

struct EvaluationReport
{
    std::string modelType;
    std::int64_t dataTokens = 0; // ids in the data
    std::int64_t tokens = 0; // predicted tokens
    int windows = 0;
    double floatPerplexity = 0;
    // With a scheme:
    bool quantized = false;
    std::string schemeName;
    double perplexity = 0; // the fake-quantized model's
    double klDivergence = 0; // KL(float || quantized) per predicted token
    double top1Agreement = 0;
};

// Loads the model (Llama family), the data and runs both models window by window; progress
// counts windows, cancellation is honoured between windows. Errors name the file or tensor.
EvaluationReport evaluateCheckpoint(const Checkpoint& checkpoint, const EvaluationRequest& request, Progress& progress);

} // namespace qs
