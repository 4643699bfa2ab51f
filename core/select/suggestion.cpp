// SPDX-License-Identifier: GPL-3.0-or-later
#include "select/suggestion.h"

#include "error.h"
#include "runtime/memory.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

namespace qs {
namespace {

bool isLossBudget(const SuggestionBudget& b)
{
    return b.kind == BudgetKind::PerplexityIncrease || b.kind == BudgetKind::Kl;
}

// The quantity a loss budget limits, per option (and the objective of size budgets: KL).
double metric(const SuggestionBudget& b, const SuggestionOption& o)
{
    return b.kind == BudgetKind::PerplexityIncrease ? std::max(0.0, o.deltaLoss) : std::max(0.0, o.kl);
}

double unitMetric(const SuggestionProblem& p, const SuggestionBudget& b, std::size_t u, int choice)
{
    return choice < 0 ? 0.0 : metric(b, p.units[u].options[static_cast<std::size_t>(choice)]);
}

std::uint64_t unitBytes(const SuggestionProblem& p, std::size_t u, int choice)
{
    return choice < 0 ? p.units[u].keptBytes : p.units[u].options[static_cast<std::size_t>(choice)].bytes;
}

// The limit on the summed metric that a loss budget means.
double lossLimit(const SuggestionBudget& b)
{
    return b.kind == BudgetKind::PerplexityIncrease ? std::log1p(std::max(0.0, b.value)) : b.value;
}

std::uint64_t totalElements(const SuggestionProblem& p)
{
    std::uint64_t n = 0;
    for (const SuggestionUnit& u : p.units)
        n += u.elements;
    return n;
}

// The byte limit of a size or bits budget, on the whole export (size) or the units (bits).
std::uint64_t byteLimit(const SuggestionProblem& p, const SuggestionBudget& b)
{
    if (b.kind == BudgetKind::Size)
        return static_cast<std::uint64_t>(std::max(0.0, b.value));
    return static_cast<std::uint64_t>(std::floor(std::max(0.0, b.value) * static_cast<double>(totalElements(p)) / 8.0))
        + p.fixedBytes;
}

int smallestOption(const SuggestionUnit& u)
{
    int best = -1;
    std::uint64_t bytes = u.keptBytes;
    for (std::size_t i = 0; i < u.options.size(); ++i) {
        if (best < 0 || u.options[i].bytes < bytes) {
            best = static_cast<int>(i);
            bytes = u.options[i].bytes;
        }
    }
    return best;
}

// One greedy step: the change of one unit's choice with the best metric reduction per added byte
// (free reductions first) among those whose new byte total stays within `room` added bytes.
struct Step
{
    std::size_t unit = 0;
    int to = 0;
    double gain = -1;
};

Step bestUpgrade(const SuggestionProblem& p, const SuggestionBudget& b, const SuggestionChoice& choice,
    std::uint64_t room)
{
    Step best;
    for (std::size_t u = 0; u < p.units.size(); ++u) {
        const double m = unitMetric(p, b, u, choice[u]);
        const std::uint64_t bytes = unitBytes(p, u, choice[u]);
        for (int to = -1; to < static_cast<int>(p.units[u].options.size()); ++to) {
            if (to == choice[u])
                continue;
            const double reduction = m - unitMetric(p, b, u, to);
            const std::uint64_t newBytes = unitBytes(p, u, to);
            if (reduction <= 0 || (newBytes > bytes && newBytes - bytes > room))
                continue;
            const double gain = newBytes <= bytes ? std::numeric_limits<double>::infinity()
                                                  : reduction / static_cast<double>(newBytes - bytes);
            if (gain > best.gain) {
                best = { u, to, gain };
            }
        }
    }
    return best;
}

} // namespace

std::string describeBudget(const SuggestionBudget& b)
{
    char text[96];
    switch (b.kind) {
    case BudgetKind::PerplexityIncrease:
        std::snprintf(text, sizeof text, "perplexity increase <= %g%%", 100 * b.value);
        break;
    case BudgetKind::Kl:
        std::snprintf(text, sizeof text, "KL divergence <= %g nats/token", b.value);
        break;
    case BudgetKind::Size:
        return "exported size <= " + formatBytes(static_cast<std::uint64_t>(b.value));
    case BudgetKind::Bits:
        std::snprintf(text, sizeof text, "average bits per weight <= %g", b.value);
        break;
    }
    return text;
}

bool meetsBudget(const SuggestionBudget& b, double perplexityIncrease, double kl, std::uint64_t bytes, double bits)
{
    // A relative tolerance for the sums' rounding.
    switch (b.kind) {
    case BudgetKind::PerplexityIncrease:
        return perplexityIncrease <= b.value * (1 + 1e-9);
    case BudgetKind::Kl:
        return kl <= b.value * (1 + 1e-9);
    case BudgetKind::Size:
        return static_cast<double>(bytes) <= b.value;
    case BudgetKind::Bits:
        return bits <= b.value * (1 + 1e-12);
    }
    return false;
}

Suggestion describeChoice(const SuggestionProblem& p, const SuggestionChoice& choice, const SuggestionBudget& b)
{
    Suggestion s;
    s.choice = choice;
    s.bytes = p.fixedBytes;
    std::uint64_t unitBytesTotal = 0;
    for (std::size_t u = 0; u < p.units.size(); ++u) {
        const SuggestionUnit& unit = p.units[u];
        const int c = choice.at(u);
        const std::uint64_t bytes = unitBytes(p, u, c);
        s.bytes += bytes;
        unitBytesTotal += bytes;
        if (c < 0) {
            s.keep.insert(s.keep.end(), unit.modules.begin(), unit.modules.end());
            continue;
        }
        const SuggestionOption& o = unit.options[static_cast<std::size_t>(c)];
        s.deltaLoss += std::max(0.0, o.deltaLoss);
        s.kl += std::max(0.0, o.kl);
        for (const std::string& m : unit.modules)
            s.schemes[m] = o.scheme;
    }
    const std::uint64_t elements = totalElements(p);
    s.bits = elements > 0 ? 8.0 * static_cast<double>(unitBytesTotal) / static_cast<double>(elements) : 0;
    s.perplexity = std::exp(p.floatMeanNll + s.deltaLoss);
    s.perplexityIncrease = std::expm1(s.deltaLoss);
    s.meetsBudget = meetsBudget(b, s.perplexityIncrease, s.kl, s.bytes, s.bits);
    return s;
}

std::vector<int> sensitivityOrder(const SuggestionProblem& p, const SuggestionBudget& b)
{
    std::vector<int> order(p.units.size());
    std::iota(order.begin(), order.end(), 0);
    const SuggestionBudget objective = isLossBudget(b) ? b : SuggestionBudget { BudgetKind::Kl, 0 };
    auto key = [&](int u) { return p.units[u].options.empty() ? 0.0 : metric(objective, p.units[u].options.front()); };
    std::stable_sort(order.begin(), order.end(), [&](int a, int c) {
        const double ka = key(a), kc = key(c);
        if (ka != kc)
            return ka > kc;
        return p.units[a].keptBytes < p.units[c].keptBytes;
    });
    return order;
}

Suggestion suggest(const SuggestionProblem& p, const SuggestionBudget& b)
{
    if (p.units.empty())
        throw UsageError("nothing to choose: the model has no quantizable modules in its layers");
    for (const SuggestionUnit& u : p.units) {
        if (u.options.empty())
            throw UsageError("no candidate scheme was measured for " + u.modules.front());
    }
    SuggestionChoice choice(p.units.size());
    for (std::size_t u = 0; u < p.units.size(); ++u)
        choice[u] = smallestOption(p.units[u]);

    if (isLossBudget(b)) {
        const double limit = lossLimit(b);
        auto total = [&] {
            double t = 0;
            for (std::size_t u = 0; u < p.units.size(); ++u)
                t += unitMetric(p, b, u, choice[u]);
            return t;
        };
        const bool single = std::all_of(p.units.begin(), p.units.end(), [](const auto& u) { return u.options.size() == 1; });
        if (single) {
            // The fewest kept units: the most sensitive first.
            double t = total();
            for (int u : sensitivityOrder(p, b)) {
                if (t <= limit)
                    break;
                t -= unitMetric(p, b, static_cast<std::size_t>(u), choice[static_cast<std::size_t>(u)]);
                choice[static_cast<std::size_t>(u)] = -1;
            }
            return describeChoice(p, choice, b);
        }
        std::vector<std::pair<std::size_t, int>> taken; // (unit, previous choice), in order
        while (total() > limit) {
            const Step step = bestUpgrade(p, b, choice, std::numeric_limits<std::uint64_t>::max());
            if (step.gain < 0)
                break; // everything is kept
            taken.emplace_back(step.unit, choice[step.unit]);
            choice[step.unit] = step.to;
        }
        // Undo the upgrades the budget does not need, the latest first (they bought the least).
        for (auto it = taken.rbegin(); it != taken.rend(); ++it) {
            const int current = choice[it->first];
            const double without = total() - unitMetric(p, b, it->first, current) + unitMetric(p, b, it->first, it->second);
            if (without <= limit && unitBytes(p, it->first, it->second) < unitBytes(p, it->first, current))
                choice[it->first] = it->second;
        }
        return describeChoice(p, choice, b);
    }

    const std::uint64_t limit = byteLimit(p, b);
    std::uint64_t bytes = p.fixedBytes;
    for (std::size_t u = 0; u < p.units.size(); ++u)
        bytes += unitBytes(p, u, choice[u]);
    if (bytes > limit) {
        const Suggestion smallest = describeChoice(p, choice, b);
        throw UsageError("the budget (" + describeBudget(b) + ") is below the smallest choice: quantizing every module "
            + "with its smallest candidate exports " + formatBytes(smallest.bytes) + " ("
            + std::to_string(smallest.bits).substr(0, 5) + " bits per weight)");
    }
    const SuggestionBudget objective { BudgetKind::Kl, 0 };
    for (;;) {
        const Step step = bestUpgrade(p, objective, choice, limit - bytes);
        if (step.gain < 0)
            break;
        bytes = bytes - unitBytes(p, step.unit, choice[step.unit]) + unitBytes(p, step.unit, step.to);
        choice[step.unit] = step.to;
    }
    return describeChoice(p, choice, b);
}

std::vector<SuggestionPoint> suggestionCurve(const SuggestionProblem& p, const SuggestionBudget& b)
{
    SuggestionChoice choice(p.units.size(), 0);
    for (std::size_t u = 0; u < p.units.size(); ++u)
        choice[u] = p.units[u].options.empty() ? -1 : 0;
    std::vector<SuggestionPoint> curve;
    auto add = [&](int kept) {
        const Suggestion s = describeChoice(p, choice, b);
        curve.push_back({ kept, s.bytes, s.bits, s.perplexity, s.kl });
    };
    add(0);
    int kept = 0;
    for (int u : sensitivityOrder(p, b)) {
        choice[static_cast<std::size_t>(u)] = -1;
        add(++kept);
    }
    return curve;
}

} // namespace qs
