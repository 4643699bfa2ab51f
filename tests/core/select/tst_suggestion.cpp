// SPDX-License-Identifier: GPL-3.0-or-later
// The Suggest solver on made-up sensitivities, against brute force over every choice: one
// candidate keeps the fewest units for a loss budget; several candidates meet the budget within 1%
// of the smallest possible size; size and bits budgets fit within 5% of the lowest possible KL; an
// infeasible size is refused with the smallest size named.
#include "error.h"
#include "select/suggestion.h"

#include <QTest>

#include <cmath>
#include <limits>
#include <random>

using namespace qs;

namespace {

// Units of 1000-9000 weights; options int8 (1 byte/weight), int4 (0.5) and fp8 (1, a bit better
// than int8), kept at 2 bytes; sensitivities spread over two orders of magnitude.
SuggestionProblem randomProblem(unsigned seed, int units, int candidates)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> uniform(0, 1);
    SuggestionProblem p;
    p.floatMeanNll = 2.0;
    p.fixedBytes = 5000;
    for (int u = 0; u < units; ++u) {
        SuggestionUnit unit;
        unit.modules = { "m" + std::to_string(u) };
        unit.elements = 1000 * (1 + rng() % 9);
        unit.keptBytes = 2 * unit.elements;
        const double s = std::pow(10.0, -3 + 2 * uniform(rng));
        const double kl8 = s * (0.5 + uniform(rng));
        unit.options.push_back({ "int8", kl8 * 1.1, kl8, unit.elements });
        if (candidates > 1)
            unit.options.push_back({ "int4", 12 * kl8, 11 * kl8, unit.elements / 2 });
        if (candidates > 2)
            unit.options.push_back({ "fp8", 0.6 * kl8, 0.5 * kl8, unit.elements + 20 });
        p.units.push_back(std::move(unit));
    }
    return p;
}

// Every choice (kept or one of the options per unit), visited.
template<typename F>
void everyChoice(const SuggestionProblem& p, F&& visit)
{
    SuggestionChoice c(p.units.size(), -1);
    for (;;) {
        visit(c);
        std::size_t u = 0;
        while (u < c.size() && ++c[u] == static_cast<int>(p.units[u].options.size())) {
            c[u] = -1;
            ++u;
        }
        if (u == c.size())
            return;
    }
}

int keptCount(const SuggestionChoice& c)
{
    int n = 0;
    for (int x : c)
        n += x < 0 ? 1 : 0;
    return n;
}

} // namespace

class TestSuggestion : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void oneCandidateKeepsTheFewest()
    {
        for (unsigned seed = 1; seed <= 20; ++seed) {
            const SuggestionProblem p = randomProblem(seed, 8, 1);
            const SuggestionBudget budget { BudgetKind::PerplexityIncrease, 0.002 * (1 + seed % 5) };
            const Suggestion s = suggest(p, budget);
            QVERIFY(s.meetsBudget);
            int fewest = std::numeric_limits<int>::max();
            everyChoice(p, [&](const SuggestionChoice& c) {
                if (describeChoice(p, c, budget).meetsBudget)
                    fewest = std::min(fewest, keptCount(c));
            });
            QCOMPARE(keptCount(s.choice), fewest);
            QCOMPARE(static_cast<int>(s.keep.size()), fewest);
            QCOMPARE(s.schemes.size() + s.keep.size(), std::size_t(8));
            QVERIFY(std::abs(s.perplexity - std::exp(2.0 + s.deltaLoss)) < 1e-12);
        }
    }

    void severalCandidatesNearTheSmallestSize()
    {
        double worst = 0;
        for (unsigned seed = 1; seed <= 12; ++seed) {
            const SuggestionProblem p = randomProblem(seed, 7, 3);
            const SuggestionBudget budget { BudgetKind::Kl, 0.01 };
            const Suggestion s = suggest(p, budget);
            QVERIFY(s.meetsBudget);
            std::uint64_t smallest = std::numeric_limits<std::uint64_t>::max();
            everyChoice(p, [&](const SuggestionChoice& c) {
                const Suggestion d = describeChoice(p, c, budget);
                if (d.meetsBudget)
                    smallest = std::min(smallest, d.bytes);
            });
            worst = std::max(worst, static_cast<double>(s.bytes) / static_cast<double>(smallest));
        }
        qInfo("knapsack size / optimum, worst of 12: %.4f", worst);
        QVERIFY(worst < 1.01);
    }

    void sizeAndBitsBudgetsFitWithLowKl()
    {
        double worst = 1;
        for (unsigned seed = 1; seed <= 12; ++seed) {
            const SuggestionProblem p = randomProblem(seed, 7, 3);
            std::uint64_t all8 = p.fixedBytes;
            for (const SuggestionUnit& u : p.units)
                all8 += u.options[0].bytes;
            const SuggestionBudget budget { BudgetKind::Size, static_cast<double>(all8) };
            const Suggestion s = suggest(p, budget);
            QVERIFY(s.meetsBudget);
            QVERIFY(s.bytes <= all8);
            double lowest = std::numeric_limits<double>::max();
            everyChoice(p, [&](const SuggestionChoice& c) {
                const Suggestion d = describeChoice(p, c, budget);
                if (d.meetsBudget)
                    lowest = std::min(lowest, d.kl);
            });
            worst = std::max(worst, s.kl / lowest);
            // Bits: 6 bits per weight on average.
            const SuggestionBudget bits { BudgetKind::Bits, 6.0 };
            const Suggestion b = suggest(p, bits);
            QVERIFY(b.bits <= 6.0);
            QVERIFY(b.meetsBudget);
        }
        qInfo("knapsack KL / optimum under a size budget, worst of 12: %.4f", worst);
        QVERIFY(worst < 1.05);
    }

    void infeasibleSizeIsRefused()
    {
        const SuggestionProblem p = randomProblem(3, 5, 2);
        try {
            suggest(p, { BudgetKind::Size, 100 });
            QFAIL("a size below everything at int4 was accepted");
        } catch (const UsageError& e) {
            QVERIFY(std::string(e.what()).find("below the smallest choice") != std::string::npos);
        }
        QVERIFY_THROWS_EXCEPTION(UsageError, suggest(SuggestionProblem {}, { BudgetKind::Kl, 1 }));
    }

    void curveKeepsInSensitivityOrder()
    {
        const SuggestionProblem p = randomProblem(5, 6, 1);
        const SuggestionBudget budget { BudgetKind::PerplexityIncrease, 0.01 };
        const std::vector<SuggestionPoint> curve = suggestionCurve(p, budget);
        QCOMPARE(curve.size(), std::size_t(7));
        QCOMPARE(curve.front().kept, 0);
        QCOMPARE(curve.back().kept, 6);
        QVERIFY(std::abs(curve.back().perplexity - std::exp(2.0)) < 1e-12);
        for (std::size_t i = 1; i < curve.size(); ++i) {
            QVERIFY(curve[i].perplexity <= curve[i - 1].perplexity);
            QVERIFY(curve[i].bytes > curve[i - 1].bytes);
        }
        // The choice for a budget is a point of the curve.
        const Suggestion s = suggest(p, budget);
        QVERIFY(std::abs(curve[static_cast<std::size_t>(keptCount(s.choice))].perplexity - s.perplexity) < 1e-12);
    }
};

QTEST_GUILESS_MAIN(TestSuggestion)
#include "tst_suggestion.moc"
