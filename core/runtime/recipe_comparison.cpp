// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/recipe_comparison.h"

#include "error.h"
#include "runtime/memory.h"

#include <chrono>
#include <fstream>
#include <sstream>

namespace qs {
namespace {

std::vector<std::string> split(const std::string& text, char separator)
{
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, separator)) {
        const auto begin = item.find_first_not_of(" \t");
        const auto end = item.find_last_not_of(" \t");
        out.push_back(begin == std::string::npos ? std::string() : item.substr(begin, end - begin + 1));
    }
    return out;
}

// Linux: the peak resident size restarts from the current one ("5" to clear_refs), so that each
// candidate's own peak is measured; elsewhere the process's peak so far.
void resetPeakRss()
{
    std::ofstream("/proc/self/clear_refs") << "5";
}

// Reports the candidates' own progress as part of the comparison's.
class CandidateProgress final : public Progress
{
public:
    CandidateProgress(Progress& outer, std::int64_t index, std::int64_t count, std::string name)
        : m_outer(outer)
        , m_index(index)
        , m_count(count)
        , m_name(std::move(name))
    {
    }
    void report(const ProgressUpdate& u) override
    {
        ProgressUpdate o;
        o.stepsTotal = m_count * 1000;
        o.stepsDone = m_index * 1000 + static_cast<std::int64_t>(u.fraction() * 1000);
        o.current = m_name + ": " + u.current;
        m_outer.report(o);
    }
    bool cancelled() const override { return m_outer.cancelled(); }

private:
    Progress& m_outer;
    std::int64_t m_index, m_count;
    std::string m_name;
};

} // namespace

const char* defaultRecipeCandidates()
{
    return "rtn,gptq,awq,awq+gptq,hadamard+gptq,spinquant+gptq";
}

std::vector<RecipeCandidate> parseRecipeCandidates(const std::string& list, double smoothQuantAlpha)
{
    std::vector<RecipeCandidate> out;
    for (const std::string& name : split(list, ',')) {
        if (name.empty())
            throw UsageError("an empty recipe in '" + list + "'");
        RecipeCandidate c;
        c.name = name;
        for (const std::string& step : split(name, '+')) {
            AlgorithmSettings& a = c.algorithms;
            if (step == "rtn")
                continue;
            if (step == "gptq")
                a.gptq = true;
            else if (step == "awq")
                a.awq = true;
            else if (step == "awqclip") { // AWQ with llm-awq's clip search
                a.awq = true;
                a.awqClip = true;
            }
            else if (step == "smoothquant")
                a.smoothQuant = smoothQuantAlpha;
            else if (step == "hadamard" || step == "random") {
                if (!a.rotation.empty())
                    throw UsageError("recipe '" + name + "' rotates twice");
                a.rotation = step;
            } else if (step == "online") // the online Hadamard on the down projection's input
                a.rotationOnline = true;
            else if (step == "spinquant") { // learned from the rotation before it (hadamard+spinquant) or Hadamard
                if (a.spinQuant)
                    throw UsageError("recipe '" + name + "' learns twice");
                a.spinQuant = true;
                if (a.rotation.empty())
                    a.rotation = "hadamard";
            }
            else
                throw UsageError("recipe '" + name + "': unknown step '" + step
                    + "'; steps: rtn, gptq, awq, awqclip, smoothquant, hadamard, random, online, spinquant, joined by +");
            if (a.rotationOnline && a.rotation.empty() && step == name.substr(name.rfind('+') + 1))
                throw UsageError("recipe '" + name + "': online goes with a rotation (hadamard+online)");
            if (a.awq && a.smoothQuant)
                throw UsageError("recipe '" + name + "': AWQ and SmoothQuant both rescale the balance layers");
        }
        out.push_back(std::move(c));
    }
    if (out.empty())
        throw UsageError("no recipes to compare");
    return out;
}

std::vector<RecipeComparisonRow> compareRecipes(const Checkpoint& checkpoint, const EvaluationRequest& base,
    const std::vector<RecipeCandidate>& candidates, Progress& progress)
{
    if (!base.scheme)
        throw UsageError("comparing recipes needs a quantization scheme");
    std::vector<RecipeComparisonRow> rows;
    const auto count = static_cast<std::int64_t>(candidates.size());
    for (std::int64_t i = 0; i < count; ++i) {
        const RecipeCandidate& c = candidates[static_cast<std::size_t>(i)];
        if (progress.cancelled())
            throw CancelledError();
        EvaluationRequest request = base;
        AlgorithmSettings a = c.algorithms;
        a.gptqBlockSize = base.gptqBlockSize;
        a.gptqDampening = base.gptqDampening;
        a.gptqActOrder = base.gptqActOrder;
        a.propagateError = base.propagateError;
        a.awqDuoScaling = base.awqDuoScaling;
        a.awqGrid = base.awqGrid;
        a.rotationSeed = base.rotationSeed;
        a.spinQuantSteps = base.spinQuantSteps;
        a.spinQuantLr = base.spinQuantLr;
        applyAlgorithms(request, a);
        RecipeComparisonRow row;
        row.name = c.name;
        resetPeakRss();
        const auto started = std::chrono::steady_clock::now();
        CandidateProgress inner(progress, i, count, c.name);
        try {
            row.report = evaluateCheckpoint(checkpoint, request, inner);
        } catch (const CancelledError&) {
            throw;
        } catch (const UsageError& e) {
            row.error = e.what();
        }
        row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        row.peakRssBytes = peakRssBytes();
        rows.push_back(std::move(row));
    }
    return rows;
}

} // namespace qs
