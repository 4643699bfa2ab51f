// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Suggest, end to end: measure every module's sensitivity (runtime/sensitivity.h), build the
// consumer's units and byte counts, choose for the budget (select/suggestion.h), and verify the
// choice with a full evaluation (with the request's algorithms, if any); when the verified loss
// misses a loss budget, keep the next most sensitive unit and verify again. Plain data in and out.
#include "export/exporter.h"
#include "runtime/evaluation.h"
#include "runtime/sensitivity.h"
#include "select/suggestion.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qs {

class Checkpoint;
class Progress;

struct SuggestRequest
{
    // The evaluation data and options, the scheme (the first candidate when `candidates` is
    // empty) and the algorithms the verification runs; the measurement itself rounds to nearest.
    SensitivityRequest sensitivity;
    SuggestionBudget budget;
    // The consumer: its fused groups (vLLM fuses q/k/v and gate/up; NxD fuses q/k/v and keeps them
    // only with their whole attention block), its keep-list names, and its exported bytes.
    ExportFormat format = ExportFormat::CompressedTensors;
    int maxRefinements = 8;
};

struct SuggestReport
{
    SensitivityReport sensitivity;
    SuggestionProblem problem;
    Suggestion predicted; // the solver's choice before widening and refinement
    Suggestion chosen; // the final choice, predicted figures
    std::vector<std::string> keep; // final: kept modules, the head modules included
    std::vector<std::string> headModules; // always kept (the head is not measured)
    std::map<std::string, std::string> schemes; // final: every quantized module's preset
    std::vector<SuggestionPoint> curve;
    int curveIndex = -1; // the curve's point equal to the final choice, if one
    EvaluationReport verified;
    std::uint64_t verifiedBytes = 0; // exported bytes of the final choice
    bool verifiedMeetsBudget = false;
    int refinements = 0; // units kept after the verification missed the budget
    std::vector<std::string> notes; // widening for the consumer, refinements
};

// `first` and the presets a comma-separated list names (blanks and `first` itself skipped), in order;
// UsageError naming an unknown preset.
std::vector<QuantScheme> candidateSchemes(const QuantScheme& first, const std::string& list);

// UsageError for a format that cannot mix schemes given several candidates (NxD, AIU), and as
// measureSensitivity and suggest() do.
SuggestReport runSuggestion(const Checkpoint& checkpoint, const SuggestRequest& request, Progress& progress);

} // namespace qs
