// SPDX-License-Identifier: GPL-3.0-or-later
// Measured sensitivity and Suggest on real and generated models: "exact" equals brute force (only
// that module quantized, a full evaluation) module by module on stories260K, "block" ranks the
// same top modules, a module whose weight int4 breaks is ranked first and kept, the verified
// figures meet the budget with fewer kept modules than all, and the consumers' constraints
// (vLLM's fused groups, NxD's whole attention block) hold in the final keep list.
#include "error.h"
#include "generated_models.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "quant/quant_scheme.h"
#include "runtime/evaluation.h"
#include "runtime/sensitivity.h"
#include "runtime/suggestion_run.h"

#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace qs;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = QS_SHARED_MODELS_DIR;
const fs::path kStories = kModels / "stories260K" / "stories260K.bin";
const fs::path kText = kModels / "stories260K" / "tinystories_valid_sample10.txt";

QuantScheme preset(const char* name)
{
    return *findSchemePreset(name);
}

EvaluationRequest storiesRequest()
{
    EvaluationRequest r;
    r.data = kText;
    r.seqLen = 128;
    r.maxWindows = 6;
    r.scheme = preset("vllm-w4a16");
    return r;
}

// Module names by decreasing KL.
std::vector<std::string> rankedByKl(const SensitivityReport& report)
{
    std::vector<const ModuleSensitivity*> m;
    for (const ModuleSensitivity& s : report.modules)
        m.push_back(&s);
    std::stable_sort(m.begin(), m.end(), [](const auto* a, const auto* b) { return a->kl > b->kl; });
    std::vector<std::string> names;
    for (const auto* s : m)
        names.push_back(s->name);
    return names;
}

// Every quantizable module but `module` kept: the brute-force measurement of one module.
EvaluationReport onlyQuantized(const Checkpoint& c, EvaluationRequest request, const std::string& module)
{
    const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
    for (int m : tree.quantizable()) {
        if (tree.node(m).path != module)
            request.kept.insert(tree.node(m).path);
    }
    NullProgress quiet;
    return evaluateCheckpoint(c, request, quiet);
}

} // namespace

class TestSensitivity : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    NullProgress m_progress;

    fs::path generated(const std::string& name, const test::GeneratedModel& m)
    {
        return test::generatedModelIn(fs::path(m_dir.path().toStdString()) / name, m);
    }

    // 1200 ids with a repeating structure the random model's predictions can be compared on.
    fs::path ids(const fs::path& folder, std::int64_t vocab)
    {
        std::vector<std::int64_t> v;
        for (int i = 0; i < 1200; ++i)
            v.push_back((i * 53 + 7 + (i / 13) * 5) % vocab);
        const fs::path file = folder / "ids.json";
        std::ofstream(file) << nlohmann::json(v).dump();
        return file;
    }

private Q_SLOTS:
    // Exact mode is the brute force measurement (one module quantized, run to the output), for
    // every module of stories260K, to rounding.
    void exactEqualsBruteForce()
    {
        const Checkpoint c = Checkpoint::open(kStories);
        SensitivityRequest request;
        request.evaluation = storiesRequest();
        request.mode = "exact";
        const SensitivityReport exact = measureSensitivity(c, request, m_progress);
        QCOMPARE(exact.modules.size(), std::size_t(5 * 7));
        QVERIFY(exact.floatPerplexity > 1);
        int checked = 0;
        for (const ModuleSensitivity& m : exact.modules) {
            QVERIFY(m.measured);
            if (checked++ % 3 != 0) // a third of them, spread over the layers, keeps the test fast
                continue;
            const EvaluationReport brute = onlyQuantized(c, storiesRequest(), m.name);
            QCOMPARE(brute.quantizedModules, 1);
            QVERIFY2(std::abs(brute.floatMeanNll - exact.floatMeanNll) < 1e-6, m.name.c_str());
            QVERIFY2(std::abs(m.kl - brute.klDivergence) <= 1e-4 * brute.klDivergence + 1e-8,
                qPrintable(QString::fromStdString(m.name) + QStringLiteral(": exact KL %1, brute force %2")
                               .arg(m.kl).arg(brute.klDivergence)));
            QVERIFY2(std::abs(m.deltaLoss - (brute.meanNll - brute.floatMeanNll)) < 1e-6, m.name.c_str());
        }
    }

    // Block mode (the layer-output error times the probed gain) ranks the same modules on top:
    // the three most sensitive by exact KL are among block mode's five, and its KL is within a
    // factor 2 of the exact one for them.
    void blockRanksLikeExact()
    {
        const Checkpoint c = Checkpoint::open(kStories);
        SensitivityRequest request;
        request.evaluation = storiesRequest();
        request.mode = "exact";
        const SensitivityReport exact = measureSensitivity(c, request, m_progress);
        request.mode = "block";
        const SensitivityReport block = measureSensitivity(c, request, m_progress);
        QCOMPARE(block.modules.size(), exact.modules.size());
        QCOMPARE(block.probes.size(), std::size_t(5));
        const std::vector<std::string> e = rankedByKl(exact), b = rankedByKl(block);
        for (int i = 0; i < 3; ++i)
            QVERIFY2(std::find(b.begin(), b.begin() + 5, e[i]) != b.begin() + 5, e[i].c_str());
        std::map<std::string, double> exactKl;
        for (const ModuleSensitivity& m : exact.modules)
            exactKl[m.name] = m.kl;
        for (const ModuleSensitivity& m : block.modules) {
            QVERIFY(!m.measured);
            QVERIFY(m.blockError > 0);
            if (m.name == e[0] || m.name == e[1] || m.name == e[2]) {
                const double ratio = m.kl / exactKl[m.name];
                QVERIFY2(ratio > 0.5 && ratio < 2, qPrintable(QString::fromStdString(m.name) + QString::number(ratio)));
            }
        }
        // Fewer probes: interpolated between the first and last layer, still a ranking.
        request.probes = 2;
        const SensitivityReport two = measureSensitivity(c, request, m_progress);
        QCOMPARE(two.probes.size(), std::size_t(2));
        const std::vector<std::string> t = rankedByKl(two);
        QVERIFY(std::find(t.begin(), t.begin() + 8, e[0]) != t.begin() + 8);
    }

    // A down projection int4 breaks (a 30x element in every row) is ranked first in both modes,
    // with the quick estimate too, and suggest keeps it.
    void brokenModuleRankedFirstAndKept()
    {
        test::GeneratedModel m("llama", 4);
        m.spiked = { "model.layers.1.mlp.down_proj.weight" };
        const fs::path path = generated("spiked", m);
        const Checkpoint c = Checkpoint::open(path);
        const std::string broken = "model.layers.1.mlp.down_proj";
        SensitivityRequest request;
        request.evaluation.data = ids(path, m.vocab);
        request.evaluation.seqLen = 64;
        request.evaluation.scheme = preset("vllm-w4a16");
        for (const char* mode : { "block", "exact" }) {
            request.mode = mode;
            const SensitivityReport r = measureSensitivity(c, request, m_progress);
            QCOMPARE(rankedByKl(r).front(), broken);
            std::vector<ModuleSensitivity> byEstimate = r.modules;
            std::stable_sort(byEstimate.begin(), byEstimate.end(),
                [](const auto& a, const auto& b) { return a.estimate > b.estimate; });
            QCOMPARE(byEstimate.front().name, broken);
        }
        SuggestRequest suggest;
        suggest.sensitivity = request;
        suggest.sensitivity.mode = "block";
        suggest.budget = { BudgetKind::Kl, 0.0 };
        // Half of what quantizing everything costs.
        const SensitivityReport r = measureSensitivity(c, request, m_progress);
        double total = 0;
        for (const ModuleSensitivity& s : r.modules)
            total += s.kl;
        suggest.budget.value = total / 2;
        const SuggestReport s = runSuggestion(c, suggest, m_progress);
        QVERIFY(std::find(s.keep.begin(), s.keep.end(), broken) != s.keep.end());
        QVERIFY(std::find(s.keep.begin(), s.keep.end(), "lm_head") != s.keep.end());
        QCOMPARE(s.headModules, std::vector<std::string> { "lm_head" });
        QVERIFY(s.verifiedMeetsBudget);
        QVERIFY(s.verified.klDivergence <= suggest.budget.value);
        QVERIFY(s.keep.size() < 4 * 7 + 1);
        QVERIFY(s.schemes.count(broken) == 0);
        QVERIFY(s.schemes.size() + s.keep.size() == 4 * 7 + 1);
    }

    // The verified figures meet a perplexity budget on stories260K and a generated Llama, with
    // fewer kept modules than all; by the prediction, quantizing any one kept unit breaks the
    // budget (the fewest kept units); vLLM's fused groups are kept or quantized together.
    void suggestMeetsPerplexityBudget()
    {
        test::GeneratedModel m("llama", 3);
        m.spiked = { "model.layers.2.self_attn.o_proj.weight", "model.layers.0.mlp.up_proj.weight" };
        const fs::path llama = generated("llama-ppl", m);
        for (const fs::path& model : { kStories, llama }) {
            const Checkpoint c = Checkpoint::open(model);
            SuggestRequest request;
            request.sensitivity.evaluation = model == kStories ? storiesRequest() : EvaluationRequest {};
            if (model != kStories) {
                request.sensitivity.evaluation.data = ids(llama, m.vocab);
                request.sensitivity.evaluation.seqLen = 64;
                request.sensitivity.evaluation.scheme = preset("vllm-w4a16");
            }
            request.budget = { BudgetKind::PerplexityIncrease, 0.03 };
            const SuggestReport s = runSuggestion(c, request, m_progress);
            const std::string what = model.filename().string();
            QVERIFY2(s.verifiedMeetsBudget, what.c_str());
            QVERIFY(s.verified.perplexity / s.verified.floatPerplexity - 1 <= 0.03);
            QVERIFY2(!s.keep.empty() && s.schemes.size() > 0, what.c_str());
            // The fused groups share a status.
            const std::set<std::string> keep(s.keep.begin(), s.keep.end());
            for (const std::string& k : s.keep) {
                const auto dot = k.rfind('.');
                const std::string parent = k.substr(0, dot), name = k.substr(dot + 1);
                if (name == "q_proj" || name == "k_proj" || name == "v_proj") {
                    for (const char* sibling : { ".q_proj", ".k_proj", ".v_proj" })
                        QVERIFY2(keep.count(parent + sibling), k.c_str());
                }
                if (name == "gate_proj" || name == "up_proj") {
                    QVERIFY2(keep.count(parent + ".gate_proj") && keep.count(parent + ".up_proj"), k.c_str());
                }
            }
            // The fewest: by the prediction, quantizing any kept unit breaks the budget.
            if (s.refinements == 0) {
                for (std::size_t u = 0; u < s.chosen.choice.size(); ++u) {
                    if (s.chosen.choice[u] >= 0)
                        continue;
                    SuggestionChoice without = s.chosen.choice;
                    without[u] = 0;
                    QVERIFY(!describeChoice(s.problem, without, request.budget).meetsBudget);
                }
            }
            // The curve: everything quantized first, then one unit more kept per point, growing in
            // size; the choice is on it.
            QCOMPARE(s.curve.size(), s.problem.units.size() + 1);
            for (std::size_t i = 1; i < s.curve.size(); ++i) {
                QVERIFY(s.curve[i].bytes > s.curve[i - 1].bytes);
                QVERIFY(s.curve[i].kl <= s.curve[i - 1].kl + 1e-12);
            }
            QVERIFY(s.curveIndex >= 0);
        }
    }

    // NxD keeps q/k/v only with the whole attention block: a kept k_proj group widens to o_proj, and
    // the note says so. Several candidates are refused for NxD.
    void nxdWidensAttention()
    {
        test::GeneratedModel m("llama", 2);
        m.spiked = { "model.layers.0.self_attn.k_proj.weight" };
        const fs::path path = generated("nxd", m);
        const Checkpoint c = Checkpoint::open(path);
        SuggestRequest request;
        request.sensitivity.evaluation.data = ids(path, m.vocab);
        request.sensitivity.evaluation.seqLen = 64;
        request.sensitivity.evaluation.scheme = preset("nxd-int8");
        request.sensitivity.mode = "exact";
        request.format = ExportFormat::Nxd;
        request.budget = { BudgetKind::Kl, 0 };
        const SuggestReport s = runSuggestion(c, request, m_progress); // a zero budget keeps everything
        QCOMPARE(s.keep.size(), std::size_t(2 * 7 + 1));
        QVERIFY(s.verified.klDivergence < 1e-9);

        request.budget = { BudgetKind::Kl, 1.0 };
        request.sensitivity.evaluation.scheme = preset("nxd-int8");
        SensitivityRequest probe = request.sensitivity;
        const SensitivityReport r = measureSensitivity(c, probe, m_progress);
        double qkv = 0, rest = 0;
        for (const ModuleSensitivity& x : r.modules) {
            if (x.name.find("layers.0.self_attn.") != std::string::npos && x.name.find("o_proj") == std::string::npos)
                qkv += x.kl;
            else
                rest += x.kl;
        }
        request.budget.value = rest + qkv / 2; // keeping the q/k/v group is needed and enough
        const SuggestReport w = runSuggestion(c, request, m_progress);
        const std::set<std::string> keep(w.keep.begin(), w.keep.end());
        QVERIFY(keep.count("model.layers.0.self_attn.k_proj"));
        QVERIFY(keep.count("model.layers.0.self_attn.o_proj"));
        QVERIFY(std::any_of(w.notes.begin(), w.notes.end(),
            [](const std::string& n) { return n.find("NxD fuses q/k/v") != std::string::npos; }));

        request.sensitivity.candidates = { preset("nxd-int8"), preset("nxd-fp8") };
        QVERIFY_THROWS_EXCEPTION(UsageError, runSuggestion(c, request, m_progress));
    }
};

QTEST_GUILESS_MAIN(TestSensitivity)
#include "tst_sensitivity.moc"
