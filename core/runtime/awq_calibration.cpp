// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/awq_calibration.h"

#include "algo/smoothquant.h"
#include "error.h"
#include "io/anonymous_file.h"
#include "models/model_config.h"
#include "runtime/memory.h"

#include <ATen/ATen.h>

#include <set>

#include <unistd.h>

namespace qs {
namespace {

std::string describe(const SmoothQuantMapping& m)
{
    std::string out = "{smooth_layer: \"" + m.smooth + "\", balance_layers: [";
    for (std::size_t i = 0; i < m.balance.size(); ++i)
        out += (i ? ", \"" : "\"") + m.balance[i] + "\"";
    return out + "]}";
}

// The lowest module holding every balance layer (llm-compressor's parent); the Linear itself when
// there is one.
std::string parentOf(const std::vector<const Projection*>& balance)
{
    std::string prefix = balance.front()->module;
    if (balance.size() == 1)
        return prefix;
    for (const Projection* p : balance) {
        std::size_t n = 0;
        while (n < prefix.size() && n < p->module.size() && prefix[n] == p->module[n])
            ++n;
        prefix.resize(n);
    }
    const auto dot = prefix.rfind('.');
    return dot == std::string::npos ? prefix : prefix.substr(0, dot);
}

// What one layer's float pass keeps: per mapping's first balance layer, its input per sample; in
// memory up to a budget, then in an unnamed file (read back when the search asks).
class KeptInputs
{
public:
    KeptInputs(std::uint64_t budget, std::filesystem::path folder)
        : m_budget(budget)
        , m_folder(std::move(folder))
    {
    }
    ~KeptInputs()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    KeptInputs(const KeptInputs&) = delete;
    KeptInputs& operator=(const KeptInputs&) = delete;

    void add(const std::string& module, const at::Tensor& x)
    {
        Entry e;
        e.shape = x.sizes().vec();
        const auto bytes = static_cast<std::uint64_t>(x.numel()) * sizeof(float);
        if (m_inMemory + bytes <= m_budget) {
            e.tensor = x.to(at::kFloat).contiguous().clone();
            m_inMemory += bytes;
        } else {
            if (m_fd < 0)
                m_fd = openAnonymousFile(m_folder, "AWQ's calibration inputs that do not fit in memory");
            const at::Tensor f = x.to(at::kFloat).contiguous();
            e.offset = m_end;
            writeAt(m_fd, f.data_ptr<float>(), bytes, m_end, "AWQ's calibration inputs");
            m_end += bytes;
        }
        m_entries[module].push_back(std::move(e));
    }
    bool has(const std::string& module) const
    {
        const auto it = m_entries.find(module);
        return it != m_entries.end() && !it->second.empty();
    }
    std::size_t count(const std::string& module) const { return has(module) ? m_entries.at(module).size() : 0; }
    at::Tensor get(const std::string& module, std::size_t i) const
    {
        const Entry& e = m_entries.at(module)[i];
        if (e.tensor.defined())
            return e.tensor;
        at::Tensor t = at::empty(e.shape, at::kFloat);
        readAt(m_fd, t.data_ptr<float>(), static_cast<std::size_t>(t.numel()) * sizeof(float), e.offset,
            "AWQ's calibration inputs");
        return t;
    }
    void clear()
    {
        m_entries.clear();
        m_inMemory = 0;
        m_end = 0; // the file is overwritten by the next layer
    }

private:
    struct Entry
    {
        at::Tensor tensor; // in memory, or undefined: in the file
        std::vector<std::int64_t> shape;
        std::uint64_t offset = 0;
    };
    std::uint64_t m_budget;
    std::filesystem::path m_folder;
    std::map<std::string, std::vector<Entry>> m_entries;
    std::uint64_t m_inMemory = 0, m_end = 0;
    int m_fd = -1;
};

// One mapping of one layer, resolved against its modules.
struct Resolved
{
    SmoothQuantMapping mapping;
    const NormWeights* norm = nullptr; // the smooth layer: a norm ...
    const Projection* linear = nullptr; // ... or a Linear
    std::vector<const Projection*> balance;
    std::string parent;
};

std::optional<Resolved> resolve(const Block& layer, const SmoothQuantMapping& m, const AwqSettings& settings)
{
    Resolved r;
    r.mapping = m;
    for (const NormWeights* n : layer.smoothableNorms()) {
        if (smoothQuantTargetMatches(m.smooth, n->module))
            r.norm = n;
    }
    for (const Projection* p : layer.projections()) {
        if (!r.norm && smoothQuantTargetMatches(m.smooth, p->module))
            r.linear = p;
        if (anyTargetMatches(m.balance, p->module))
            r.balance.push_back(p);
    }
    const std::string smooth = r.norm ? r.norm->module : r.linear ? r.linear->module : std::string();
    if (smooth.empty() || r.balance.empty() || anyTargetMatches(settings.ignore, smooth))
        return std::nullopt;
    // v_proj -> o_proj under grouped-query attention: the shapes do not fit, the mapping is skipped.
    const std::int64_t width = r.norm ? r.norm->weight.size(0) : r.linear->weight.size(0);
    for (const Projection* p : r.balance) {
        if (!awqMappingFits(width, p->weight.size(1)))
            return std::nullopt;
    }
    r.parent = parentOf(r.balance);
    return r;
}

at::Tensor runParent(const Block& layer, const Resolved& r, const at::Tensor& x)
{
    if (r.balance.size() == 1) {
        const Projection& p = *r.balance.front();
        return p.bias.defined() ? at::linear(x, p.weight, p.bias) : at::linear(x, p.weight);
    }
    return layer.runParent(r.parent, x, 0, {});
}

struct Smoothed
{
    AwqMappingReport report;
    at::Tensor scales;
};

// The mapping's grid search on the kept inputs, then the winner folded into both layers; nothing
// when none of its balance layers is quantized (nothing to protect).
std::optional<Smoothed> smoothMapping(Block& floatLayer, Block& layer, const Resolved& r,
    const KeptInputs& kept, const WeightTransform& quantize,
    const std::function<std::optional<QuantScheme>(const std::string&)>& schemeOf, const AwqSettings& settings,
    CancelToken cancel)
{
    const std::string& first = r.balance.front()->module;
    const std::size_t samples = kept.count(first);
    ChannelAbsMean xMean;
    std::vector<at::Tensor> floatOutputs;
    for (std::size_t i = 0; i < samples; ++i) {
        const at::Tensor x = kept.get(first, i);
        xMean.add(x);
        floatOutputs.push_back(runParent(floatLayer, r, x));
    }
    std::vector<std::string> names;
    std::vector<at::Tensor> originals;
    std::optional<QuantScheme> scheme;
    for (const Projection* p : r.balance) {
        names.push_back(p->module);
        originals.push_back(p->weight);
        if (!scheme)
            scheme = schemeOf(p->module);
    }
    if (!scheme)
        return std::nullopt;
    const auto loss = [&](const std::vector<at::Tensor>& candidate) {
        cancel.throwIfCancelled();
        for (std::size_t i = 0; i < names.size(); ++i)
            floatLayer.replaceWeight(names[i], schemeOf(names[i]) ? candidate[i] : originals[i]);
        double sum = 0;
        std::int64_t count = 0;
        for (std::size_t i = 0; i < samples; ++i) {
            sum += (runParent(floatLayer, r, kept.get(first, i)) - floatOutputs[i]).pow(2).sum().item<double>();
            count += floatOutputs[i].numel();
        }
        return count > 0 ? sum / static_cast<double>(count) : 0.0;
    };
    AwqSearchResult found;
    try {
        found = awqSearch(xMean.mean(), originals, *scheme, awqGrid(settings.nGrid, settings.duoScaling), loss);
    } catch (...) {
        for (std::size_t i = 0; i < names.size(); ++i)
            floatLayer.replaceWeight(names[i], originals[i]);
        throw;
    }
    const at::Tensor& s = found.scales;
    // Fold: the balance layers' columns times s, the smooth layer divided by s (float keeps its function).
    const bool separate = &layer != &floatLayer;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const at::Tensor scaled = (originals[i] * s.reshape({ 1, -1 })).contiguous();
        floatLayer.replaceWeight(names[i], scaled);
        if (separate)
            layer.replaceWeight(names[i], quantize ? quantize(names[i], scaled) : scaled);
    }
    std::string smooth;
    if (r.norm) {
        smooth = r.norm->module;
        floatLayer.divideNorm(smooth, s);
        if (separate)
            layer.divideNorm(smooth, s);
    } else {
        smooth = r.linear->module;
        const at::Tensor divided = awqSmoothLayerDivided(r.linear->weight, s);
        const at::Tensor bias = r.linear->bias.defined() ? awqSmoothLayerDivided(r.linear->bias, s) : at::Tensor();
        floatLayer.replaceWeight(smooth, divided);
        if (bias.defined())
            floatLayer.replaceBias(smooth, bias);
        if (separate) {
            layer.replaceWeight(smooth, quantize ? quantize(smooth, divided) : divided);
            if (bias.defined())
                layer.replaceBias(smooth, bias);
        }
    }
    return Smoothed { { smooth, r.parent, found.best.ratio, found.best.duo, found.initialLoss, found.bestLoss }, s };
}

// The inputs of `module` over every kept sample, every stride-th token (about `tokens` of them).
at::Tensor sampledInputs(const KeptInputs& kept, const std::string& module, std::int64_t tokens)
{
    std::int64_t total = 0;
    for (std::size_t i = 0; i < kept.count(module); ++i)
        total += kept.get(module, i).size(0);
    const std::int64_t stride = std::max<std::int64_t>(1, total / std::max<std::int64_t>(1, tokens));
    std::vector<at::Tensor> parts;
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < kept.count(module); ++i) {
        const at::Tensor x = kept.get(module, i);
        const std::int64_t first = (stride - offset % stride) % stride;
        if (first < x.size(0))
            parts.push_back(x.slice(0, first, x.size(0), stride));
        offset += x.size(0);
    }
    return at::cat(parts);
}

bool clipSkips(const std::string& module)
{
    for (const char* name : { "q_proj", "k_proj", "query", "key" }) {
        const std::string n = name;
        if (module.size() >= n.size() && module.compare(module.size() - n.size(), n.size(), n) == 0)
            return true;
    }
    return false;
}

// The clip search on the mapping's quantized balance layers (their weights already scaled by s,
// their inputs divided by it): the quantized layer gets the clipped weights quantized.
void clipMapping(Block& floatLayer, Block& layer, const Resolved& r, const at::Tensor& scales, const KeptInputs& kept,
    const WeightTransform& quantize, const std::function<std::optional<QuantScheme>(const std::string&)>& schemeOf,
    const AwqSettings& settings, AwqOutcome& outcome)
{
    at::Tensor inputs;
    for (const Projection* p : r.balance) {
        const std::optional<QuantScheme> scheme = schemeOf(p->module);
        if (!scheme || clipSkips(p->module))
            continue;
        if (!inputs.defined())
            inputs = sampledInputs(kept, r.balance.front()->module, settings.clipOptions.sampleTokens)
                / scales.reshape({ 1, -1 });
        AwqClipOptions o = settings.clipOptions;
        o.sampleTokens = inputs.size(0); // sampled already
        const at::Tensor clipped = awqClip(floatLayer.projection(p->module)->weight, inputs, *scheme, o);
        if (&layer != &floatLayer)
            layer.replaceWeight(p->module, quantize ? quantize(p->module, clipped) : clipped);
        outcome.clipped[p->module] = clipped;
    }
}

std::string familyName(ModelFamily f)
{
    return f == ModelFamily::Llama ? "llama" : f == ModelFamily::Gpt2 ? "gpt2" : "bert";
}

} // namespace

AwqSettings awqSettingsFor(const QuantScheme& scheme, bool smoothQuant, std::vector<SmoothQuantMapping> mappings,
    std::vector<std::string> ignore, const std::string& duoScaling, int nGrid, std::uint64_t maxMemory,
    std::filesystem::path spillDirectory)
{
    if (smoothQuant)
        throw UsageError("AWQ and SmoothQuant both rescale the balance layers: choose one");
    if (scheme.activations != "none")
        throw UsageError("AWQ is for weight-only schemes (llm-compressor's AWQ keeps 16-bit activations); scheme '"
            + scheme.name + "' quantizes activations (" + scheme.activations + ")");
    AwqSettings s;
    s.mappings = std::move(mappings);
    s.ignore = std::move(ignore);
    s.duoScaling = awqDuoScalingFromName(duoScaling);
    s.nGrid = nGrid;
    s.keptMemory = maxMemory / 4;
    s.spillDirectory = std::move(spillDirectory);
    return s;
}

AwqSettings checkedAwqSettings(const ModelBlocks& model, AwqSettings settings)
{
    awqGrid(settings.nGrid, settings.duoScaling); // the grid's own checks
    if (settings.mappings.empty())
        settings.mappings = defaultAwqMappings(familyName(model.config().family));
    std::set<std::string> modules, linears;
    for (const TensorInfo& t : model.checkpoint().tensors()) {
        const auto dot = t.name.rfind('.');
        if (dot == std::string::npos)
            continue;
        const std::string module = t.name.substr(0, dot), param = t.name.substr(dot + 1);
        if (param == "weight" || param == "gain") {
            modules.insert(module);
            if (t.shape.size() == 2)
                linears.insert(module);
        }
    }
    for (const SmoothQuantMapping& m : settings.mappings) {
        if (m.balance.empty())
            throw UsageError("the AWQ mapping " + describe(m) + " names no balance layers");
        bool smooth = false, balance = false;
        for (const std::string& n : modules)
            smooth = smooth || smoothQuantTargetMatches(m.smooth, n);
        for (const std::string& l : linears)
            balance = balance || anyTargetMatches(m.balance, l);
        if (!smooth)
            throw UsageError("the AWQ mapping " + describe(m) + ": its smooth layer matches no module of "
                + model.checkpoint().path().string());
        if (!balance)
            throw UsageError("the AWQ mapping " + describe(m) + ": its balance layers match no Linear module of "
                + model.checkpoint().path().string());
    }
    return settings;
}

std::shared_ptr<LayerCalibration> awqCalibration(int floatWeights, WeightTransform quantize,
    std::function<std::optional<QuantScheme>(const std::string&)> schemeOf, AwqSettings settings,
    std::shared_ptr<AwqOutcome> outcome, CancelToken cancel)
{
    // Every mapping's balance layers read one input: it is kept on the first of them.
    std::vector<std::string> firsts;
    for (const SmoothQuantMapping& m : settings.mappings) {
        if (!m.balance.empty())
            firsts.push_back(m.balance.front());
    }
    const std::uint64_t budget = settings.keptMemory > 0 ? settings.keptMemory : defaultMemoryLimit() / 4;
    auto kept = std::make_shared<KeptInputs>(budget, settings.spillDirectory);
    auto c = std::make_shared<LayerCalibration>();
    c->floatWeights = floatWeights;
    c->propagateError = false; // AWQ's own pass is on the float model, as llm-compressor's
    c->collect.input = [kept, firsts](const std::string& module, const at::Tensor& x) {
        if (anyTargetMatches(firsts, module))
            kept->add(module, x);
        return x;
    };
    c->calibrate = [kept, quantize = std::move(quantize), schemeOf = std::move(schemeOf),
                       settings = std::move(settings), outcome, cancel](Block& floatLayer, Block& layer) {
        outcome->scales.clear();
        outcome->changedLinears.clear();
        outcome->clipped.clear();
        for (const SmoothQuantMapping& m : settings.mappings) {
            const std::optional<Resolved> r = resolve(floatLayer, m, settings);
            if (!r)
                continue;
            if (!kept->has(r->balance.front()->module))
                throw UsageError("AWQ: no calibration token reached " + r->balance.front()->module);
            const std::optional<Smoothed> done
                = smoothMapping(floatLayer, layer, *r, *kept, quantize, schemeOf, settings, cancel);
            if (!done)
                continue;
            outcome->scales[done->report.smooth] = done->scales;
            if (settings.clip)
                clipMapping(floatLayer, layer, *r, done->scales, *kept, quantize, schemeOf, settings, *outcome);
            for (const Projection* p : r->balance)
                outcome->changedLinears.insert(p->module);
            if (r->linear)
                outcome->changedLinears.insert(r->linear->module);
            outcome->mappings.push_back(done->report);
        }
        kept->clear();
    };
    return c;
}

} // namespace qs
