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

// A multiple-choice knapsack by dynamic programming over the added bytes (each unit's bytes above
// its smallest option, in quanta of the whole range (65536 steps for a few units, down to 4096 for
// thousands: the table holds units x steps), rounded up so that a choice that fits in quanta fits in
// bytes): for every byte allowance, the lowest summed metric and the choice.
class Knapsack
{
public:
    Knapsack(const SuggestionProblem& p, const SuggestionBudget& b)
        : m_problem(p)
    {
        std::uint64_t range = 0;
        for (std::size_t u = 0; u < p.units.size(); ++u) {
            const int smallest = smallestOption(p.units[u]);
            m_base.push_back(unitBytes(p, u, smallest));
            std::uint64_t largest = 0;
            for (int c = -1; c < static_cast<int>(p.units[u].options.size()); ++c)
                largest = std::max(largest, unitBytes(p, u, c) - m_base.back());
            range += largest;
        }
        const std::uint64_t steps
            = std::clamp<std::uint64_t>((std::uint64_t(1) << 24) / std::max<std::size_t>(1, p.units.size()), 4096, 65536);
        m_quantum = std::max<std::uint64_t>(1, (range + steps - 1) / steps);
        const std::size_t buckets = static_cast<std::size_t>(range / m_quantum + p.units.size() + 1);
        std::vector<double> best(buckets, 0.0), next(buckets);
        m_pick.assign(p.units.size(), std::vector<std::int8_t>(buckets, 0));
        for (std::size_t u = 0; u < p.units.size(); ++u) {
            std::fill(next.begin(), next.end(), std::numeric_limits<double>::infinity());
            for (int c = -1; c < static_cast<int>(p.units[u].options.size()); ++c) {
                const std::size_t w = static_cast<std::size_t>((unitBytes(p, u, c) - m_base[u] + m_quantum - 1) / m_quantum);
                const double m = unitMetric(p, b, u, c);
                for (std::size_t k = w; k < buckets; ++k) {
                    const double v = best[k - w] + m;
                    if (v < next[k]) {
                        next[k] = v;
                        m_pick[u][k] = static_cast<std::int8_t>(c);
                    }
                }
            }
            best.swap(next);
        }
        m_best = std::move(best);
    }

    std::uint64_t baseBytes() const
    {
        std::uint64_t n = m_problem.fixedBytes;
        for (std::uint64_t b : m_base)
            n += b;
        return n;
    }
    std::size_t buckets() const { return m_best.size(); }
    // Buckets that `bytes` added above the smallest choice allow.
    std::size_t allowance(std::uint64_t bytes) const { return std::min<std::size_t>(bytes / m_quantum, buckets() - 1); }
    double best(std::size_t k) const { return m_best[k]; }

    SuggestionChoice choice(std::size_t k) const
    {
        SuggestionChoice c(m_problem.units.size());
        for (std::size_t u = m_problem.units.size(); u-- > 0;) {
            c[u] = m_pick[u][k];
            const std::size_t w
                = static_cast<std::size_t>((unitBytes(m_problem, u, c[u]) - m_base[u] + m_quantum - 1) / m_quantum);
            k -= w;
        }
        return c;
    }

private:
    const SuggestionProblem& m_problem;
    std::vector<std::uint64_t> m_base;
    std::uint64_t m_quantum = 1;
    std::vector<std::vector<std::int8_t>> m_pick;
    std::vector<double> m_best;
};

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
        // The smallest size whose lowest loss meets the budget (everything kept always does).
        const Knapsack knapsack(p, b);
        std::size_t k = 0;
        while (k + 1 < knapsack.buckets() && knapsack.best(k) > limit * (1 + 1e-12))
            ++k;
        choice = knapsack.choice(k);
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
    // The lowest KL within the allowance.
    const Knapsack knapsack(p, SuggestionBudget { BudgetKind::Kl, 0 });
    choice = knapsack.choice(knapsack.allowance(limit - knapsack.baseBytes()));
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
