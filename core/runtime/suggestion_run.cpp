// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/suggestion_run.h"

#include "error.h"
#include "export/exported_size.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "select/nxd_keep_list.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace qs {
namespace {

std::string lastSegment(const std::string& path)
{
    const auto dot = path.rfind('.');
    return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::string parentOf(const std::string& path)
{
    const auto dot = path.rfind('.');
    return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

// The group a module's consumer fuses it into ("" when none): siblings with these names.
std::string fusedGroup(ExportFormat format, const std::string& name)
{
    if (name == "q_proj" || name == "k_proj" || name == "v_proj")
        return format == ExportFormat::Aiu ? std::string() : "qkv";
    if (name == "gate_proj" || name == "up_proj")
        return format == ExportFormat::CompressedTensors ? "gate_up" : std::string();
    return {};
}

const QuantScheme& schemeNamed(const std::vector<QuantScheme>& schemes, const std::string& name)
{
    for (const QuantScheme& s : schemes) {
        if (s.name == name)
            return s;
    }
    return schemes.front();
}

// The units of the measured modules (model order), their options from the measurement and their
// bytes as `format` writes them; every other tensor is fixed.
SuggestionProblem buildProblem(const Checkpoint& checkpoint, const SensitivityReport& report,
    const std::vector<QuantScheme>& schemes, ExportFormat format)
{
    SuggestionProblem problem;
    problem.floatMeanNll = report.floatMeanNll;
    std::map<std::string, std::map<std::string, const ModuleSensitivity*>> byModule; // module -> scheme -> figures
    std::vector<std::string> order;
    for (const ModuleSensitivity& m : report.modules) {
        if (!byModule.count(m.name))
            order.push_back(m.name);
        byModule[m.name][m.scheme] = &m;
    }
    std::map<std::string, std::size_t> unitOfGroup; // parent + group -> unit
    std::set<std::string> unitWeights;
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    for (const std::string& name : order) {
        const TensorInfo* stored = checkpoint.find(name + ".weight");
        if (!stored)
            throw FormatError(checkpoint.path().string() + ": the measured module " + name + " has no tensor " + name
                + ".weight");
        // Scales are per output channel of the Linear [out, in]: a Conv1D's stored weight transposed.
        TensorInfo linear = *stored;
        const int node = tree.find(name);
        if (node >= 0 && tree.isTransposed(node) && linear.shape.size() == 2)
            std::swap(linear.shape[0], linear.shape[1]);
        const TensorInfo* weight = &linear;
        const std::string group = fusedGroup(format, lastSegment(name));
        std::size_t u = problem.units.size();
        if (!group.empty()) {
            const std::string key = parentOf(name) + "/" + group;
            const auto it = unitOfGroup.find(key);
            if (it != unitOfGroup.end())
                u = it->second;
            else
                unitOfGroup[key] = u;
        }
        if (u == problem.units.size()) {
            SuggestionUnit unit;
            for (const std::string& s : report.schemes)
                unit.options.push_back({ s, 0, 0, 0 });
            problem.units.push_back(std::move(unit));
        }
        SuggestionUnit& unit = problem.units[u];
        unit.modules.push_back(name);
        unit.elements += static_cast<std::uint64_t>(weight->numel());
        unit.keptBytes += exportedTensorBytes(format, schemes.front(), *weight, false);
        for (SuggestionOption& o : unit.options) {
            const ModuleSensitivity* m = byModule[name][o.scheme];
            o.deltaLoss += m ? m->deltaLoss : 0;
            o.kl += m ? m->kl : 0;
            o.bytes += exportedTensorBytes(format, schemeNamed(schemes, o.scheme), *weight, true);
        }
        unitWeights.insert(name + ".weight");
    }
    for (const TensorInfo& t : checkpoint.tensors()) {
        if (t.aliasOf.empty() && !unitWeights.count(t.name))
            problem.fixedBytes += exportedTensorBytes(format, schemes.front(), t, false);
    }
    return problem;
}

// What the consumer can express: NxD keeps q/k/v only with their whole attention block, and its
// partial names must resolve to the kept set. Widens `keep` (full names) and says why.
void widenForConsumer(const ModuleTree& tree, ExportFormat format, std::set<std::string>& keep,
    std::vector<std::string>& notes)
{
    if (format != ExportFormat::Nxd)
        return;
    std::set<std::string> widened = keep;
    for (const std::string& name : keep) {
        if (fusedGroup(format, lastSegment(name)) != "qkv")
            continue;
        const int parent = tree.find(parentOf(name));
        if (parent < 0)
            continue;
        for (int d : tree.descendants(parent)) {
            if (tree.isQuantizable(d) && !keep.count(tree.node(d).path)) {
                widened.insert(tree.node(d).path);
                notes.push_back("kept " + tree.node(d).path + " too: NxD fuses q/k/v and keeps them only with the whole "
                    + parentOf(name) + " block");
            }
        }
    }
    std::set<int> indices;
    for (const std::string& name : widened)
        indices.insert(tree.find(name));
    indices.erase(-1);
    const NxdKeepResolution resolved = resolveNxdKeepList(tree, compactNxdKeepList(tree, indices));
    for (int m : resolved.kept) {
        if (!indices.count(m)) {
            widened.insert(tree.node(m).path);
            notes.push_back("kept " + tree.node(m).path + " too: NxD's partial names cannot keep the chosen modules "
                + "without it");
        }
    }
    keep = std::move(widened);
}

// The choice with every unit holding a kept module kept.
SuggestionChoice choiceKeeping(const SuggestionProblem& p, SuggestionChoice choice, const std::set<std::string>& keep)
{
    for (std::size_t u = 0; u < p.units.size(); ++u) {
        for (const std::string& m : p.units[u].modules) {
            if (keep.count(m))
                choice[u] = -1;
        }
    }
    return choice;
}

} // namespace

std::vector<QuantScheme> candidateSchemes(const QuantScheme& first, const std::string& list)
{
    std::vector<QuantScheme> out { first };
    std::size_t start = 0;
    while (start <= list.size()) {
        const std::size_t comma = std::min(list.find(',', start), list.size());
        std::string name = list.substr(start, comma - start);
        start = comma + 1;
        name.erase(0, name.find_first_not_of(" \t"));
        name.erase(name.find_last_not_of(" \t") + 1);
        if (name.empty() || name == first.name)
            continue;
        const auto preset = findSchemePreset(name);
        if (!preset)
            throw UsageError("candidates: no scheme preset named '" + name + "' (see 'quantscope-cli schemes')");
        out.push_back(*preset);
    }
    return out;
}

SuggestReport runSuggestion(const Checkpoint& checkpoint, const SuggestRequest& request, Progress& progress)
{
    std::vector<QuantScheme> schemes = request.sensitivity.candidates;
    if (schemes.empty()) {
        if (!request.sensitivity.evaluation.scheme)
            throw UsageError("suggest needs a scheme: give one");
        schemes.push_back(*request.sensitivity.evaluation.scheme);
    }
    if (schemes.size() > 1 && request.format != ExportFormat::CompressedTensors)
        throw UsageError(std::string("several candidate schemes need a format that mixes them per module "
                                     "(compressed-tensors); ")
            + (request.format == ExportFormat::Nxd ? "NxD" : "the AIU") + " quantizes every module with one scheme");
    for (QuantScheme& s : schemes) {
        if (!request.sensitivity.evaluation.activations.empty())
            s.activations = request.sensitivity.evaluation.activations;
    }

    SuggestReport out;
    SensitivityRequest sensitivity = request.sensitivity;
    sensitivity.candidates = schemes;
    out.sensitivity = measureSensitivity(checkpoint, sensitivity, progress);
    out.problem = buildProblem(checkpoint, out.sensitivity, schemes, request.format);
    out.predicted = suggest(out.problem, request.budget);

    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    {
        std::set<std::string> measured;
        for (const SuggestionUnit& u : out.problem.units)
            measured.insert(u.modules.begin(), u.modules.end());
        for (int m : tree.quantizable()) {
            if (!measured.count(tree.node(m).path))
                out.headModules.push_back(tree.node(m).path);
        }
        if (!out.headModules.empty())
            out.notes.push_back("kept the head (" + out.headModules.front()
                + (out.headModules.size() > 1 ? " and " + std::to_string(out.headModules.size() - 1) + " more" : "")
                + "): it is not measured and stays in full precision");
    }

    // The final choice: widened for the consumer, then verified (and refined).
    const std::vector<int> order = sensitivityOrder(out.problem, request.budget);
    SuggestionChoice choice = out.predicted.choice;
    auto finalise = [&] {
        std::set<std::string> keep(out.headModules.begin(), out.headModules.end());
        for (std::size_t u = 0; u < choice.size(); ++u) {
            if (choice[u] < 0)
                keep.insert(out.problem.units[u].modules.begin(), out.problem.units[u].modules.end());
        }
        widenForConsumer(tree, request.format, keep, out.notes);
        choice = choiceKeeping(out.problem, choice, keep);
        out.chosen = describeChoice(out.problem, choice, request.budget);
        out.keep.clear();
        for (int m : tree.quantizable()) {
            if (keep.count(tree.node(m).path))
                out.keep.push_back(tree.node(m).path);
        }
        out.schemes = out.chosen.schemes;
    };
    auto verify = [&] {
        EvaluationRequest ev = request.sensitivity.evaluation;
        ev.scheme = schemes.front();
        ev.kept = std::set<std::string>(out.keep.begin(), out.keep.end());
        ev.moduleSchemes.clear();
        for (const auto& [module, scheme] : out.schemes) {
            if (scheme != schemes.front().name)
                ev.moduleSchemes[module] = schemeNamed(schemes, scheme);
        }
        out.verified = evaluateCheckpoint(checkpoint, ev, progress);
        out.verifiedBytes = out.chosen.bytes;
        out.verifiedMeetsBudget = meetsBudget(request.budget, out.verified.perplexity / out.verified.floatPerplexity - 1,
            out.verified.klDivergence, out.verifiedBytes, out.chosen.bits);
    };
    finalise();
    verify();
    const bool lossBudget
        = request.budget.kind == BudgetKind::PerplexityIncrease || request.budget.kind == BudgetKind::Kl;
    while (lossBudget && !out.verifiedMeetsBudget && out.refinements < request.maxRefinements) {
        const auto next = std::find_if(order.begin(), order.end(), [&](int u) { return choice[static_cast<std::size_t>(u)] >= 0; });
        if (next == order.end())
            break;
        choice[static_cast<std::size_t>(*next)] = -1;
        ++out.refinements;
        out.notes.push_back("the verification missed the budget; kept " + out.problem.units[static_cast<std::size_t>(*next)].modules.front()
            + (out.problem.units[static_cast<std::size_t>(*next)].modules.size() > 1 ? " with its fused group" : "")
            + ", the next most sensitive, and verified again");
        finalise();
        verify();
    }

    out.curve = suggestionCurve(out.problem, request.budget);
    if (schemes.size() == 1) {
        int kept = 0;
        for (int c : choice)
            kept += c < 0 ? 1 : 0;
        // The curve keeps units in sensitivity order; the choice is on it when it keeps a prefix.
        bool prefix = true;
        for (int i = 0; i < kept && prefix; ++i)
            prefix = choice[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] < 0;
        if (prefix)
            out.curveIndex = kept;
    }
    return out;
}

} // namespace qs
