// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Suggest: from measured per-module sensitivities, the keep set (and with several candidate
// schemes the scheme per module) that meets a budget. Plain data, no libtorch: the runtime
// measures (runtime/sensitivity.h) and verifies (runtime/suggestion_run.h).
//
// A unit is what a consumer quantizes or keeps as one: a single Linear, or a fused group
// (q/k/v and gate/up for vLLM, whose fused layers need one status). Each unit has one option per
// candidate scheme with its predicted loss increase and exported bytes, and can be kept
// (full precision: zero loss, its kept bytes).
//
// The prediction adds the units' figures: mean NLL increase (clamped at zero: a module whose
// quantization happens to lower the loss on the data is not counted as a gain) and KL. A
// perplexity budget P is met when exp(sum of NLL increases) - 1 <= P.
//
// - Loss budgets (perplexity increase, KL), one candidate: keep the most sensitive units first
//   until the rest fit, the fewest kept units that meet it.
// - Loss budgets, several candidates: the smallest export whose loss meets the budget; size and
//   bits budgets: the lowest KL that fits (refused when even the smallest options exceed it). Both
//   by dynamic programming over the bytes added above the smallest options (a multiple-choice
//   knapsack in 4096 to 65536 steps of the whole range, rounded so that the choice always fits).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qs {

struct SuggestionOption
{
    std::string scheme; // the candidate's preset name
    double deltaLoss = 0; // mean NLL increase per predicted token
    double kl = 0; // KL(float || quantized) per predicted token
    std::uint64_t bytes = 0; // exported bytes of the unit's weights quantized with it
};

struct SuggestionUnit
{
    std::vector<std::string> modules; // full names
    std::uint64_t elements = 0; // weight elements
    std::uint64_t keptBytes = 0; // exported bytes of its weights in full precision
    std::vector<SuggestionOption> options; // per candidate, in the candidates' order
};

enum class BudgetKind
{
    PerplexityIncrease, // value: a fraction (0.01 is 1%)
    Kl, // nats per token
    Size, // bytes of the exported checkpoint
    Bits, // average bits per weight of the Linear modules, scales included
};

struct SuggestionBudget
{
    BudgetKind kind = BudgetKind::PerplexityIncrease;
    double value = 0.01;
};

std::string describeBudget(const SuggestionBudget& budget); // "perplexity +1%", "size <= 4.50 GiB"

struct SuggestionProblem
{
    std::vector<SuggestionUnit> units; // in model order
    std::uint64_t fixedBytes = 0; // every other tensor the export writes
    double floatMeanNll = 0;
};

struct SuggestionPoint
{
    int kept = 0; // units kept (the most sensitive ones)
    std::uint64_t bytes = 0;
    double bits = 0;
    double perplexity = 0; // predicted
    double kl = 0; // predicted
};

// Per unit: -1 kept, otherwise the index of its option.
using SuggestionChoice = std::vector<int>;

struct Suggestion
{
    SuggestionChoice choice;
    std::vector<std::string> keep; // kept modules, in model order
    std::map<std::string, std::string> schemes; // every quantized module: its scheme
    double deltaLoss = 0, kl = 0; // predicted
    double perplexity = 0; // predicted: exp(float mean NLL + deltaLoss)
    double perplexityIncrease = 0; // exp(deltaLoss) - 1
    std::uint64_t bytes = 0;
    double bits = 0;
    bool meetsBudget = false; // by the prediction
};

// The figures of a choice.
Suggestion describeChoice(const SuggestionProblem& problem, const SuggestionChoice& choice, const SuggestionBudget& budget);

// Whether figures meet a budget: a loss budget by the loss, a size budget by the bytes.
bool meetsBudget(const SuggestionBudget& budget, double perplexityIncrease, double kl, std::uint64_t bytes, double bits);

// The units in decreasing sensitivity to the first candidate (NLL increase for a perplexity
// budget, KL otherwise; ties by size).
std::vector<int> sensitivityOrder(const SuggestionProblem& problem, const SuggestionBudget& budget);

// Chooses for the budget (see above). UsageError when a size or bits budget is below what
// quantizing everything with the smallest candidate gives, or the problem is empty.
Suggestion suggest(const SuggestionProblem& problem, const SuggestionBudget& budget);

// Quantize everything with the first candidate, then keep the units one by one in sensitivity
// order: units + 1 points.
std::vector<SuggestionPoint> suggestionCurve(const SuggestionProblem& problem, const SuggestionBudget& budget);

} // namespace qs
