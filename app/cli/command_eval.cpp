// `quantscope-cli eval MODEL --data FILE [--scheme PRESET] [--seq-len N] [--json]`: runs the
// model natively on the data and reports its perplexity; with a scheme, the fake-quantized
// model against the float one (KL divergence, top-1 agreement).
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/llama2c_tokenizer.h"
#include "keep_options.h"
#include "model/module_tree.h"
#include "quant/quant_scheme.h"
#include "runtime/eval_data.h"
#include "runtime/fake_quant.h"
#include "runtime/model_config.h"
#include "runtime/perplexity.h"
#include "scheme_option.h"
#include "select/selection.h"
#include "terminal_progress.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

// A float32 matrix as a NumPy .npy file (format version 1.0).
std::string npy(const at::Tensor& matrix)
{
    const at::Tensor m = matrix.to(at::kFloat).contiguous();
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(m.size(0)) + ", "
        + std::to_string(m.size(1)) + "), }";
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>((header.size() >> 8) & 0xff);
    out += header;
    out.append(static_cast<const char*>(m.data_ptr()), static_cast<std::size_t>(m.numel()) * sizeof(float));
    return out;
}

nlohmann::ordered_json number(double v)
{
    return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

} // namespace

int runEval(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json" };
    spec.values = { "--data", "--seq-len", "--protocol", "--scheme", "--logits", "--max-windows", "--generate" };
    addKeepOptions(spec);
    const Arguments args = parseArguments("eval", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'eval' needs exactly one model: quantscope-cli eval MODEL --data FILE [--json]");
    const std::string data = args.value("--data");
    const int generate = static_cast<int>(args.integer("--generate", 0, 0, 100000));
    if (data.empty() && generate == 0)
        throw UsageError("eval needs --data FILE (token ids as .json, .jsonl with \"text\", or text)");
    const int seqLen = static_cast<int>(args.integer("--seq-len", 256, 2, 1 << 20));
    const int maxWindows = static_cast<int>(args.integer("--max-windows", 0, 0, 1 << 30));
    const std::string protocolName = args.value("--protocol", "overlap");
    if (protocolName != "overlap" && protocolName != "blocks")
        throw UsageError("--protocol: '" + protocolName + "'; protocols: overlap, blocks");
    const std::optional<QuantScheme> scheme = schemeOption(args);

    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    const ModelConfig config = modelConfigFromJson(checkpoint.config());
    const LlamaModel model = LlamaModel::load(checkpoint, config);

    nlohmann::ordered_json out;
    out["model"] = args.positional.front();
    out["model_type"] = config.modelType;
    if (generate > 0) {
        const std::vector<std::int64_t> ids = model.greedy({ config.bosToken }, generate);
        out["generated_ids"] = ids;
        if (!checkpoint.tokenizerFile().empty() && checkpoint.tokenizerFile().extension() == ".bin") {
            const Llama2cTokenizer tok
                = Llama2cTokenizer::read(checkpoint.tokenizerFile(), static_cast<int>(config.vocabSize));
            out["generated"] = tok.decode(std::vector<int>(ids.begin(), ids.end()));
        }
    }
    if (data.empty()) {
        if (args.has("--json"))
            std::cout << out.dump(2) << "\n";
        else if (out.contains("generated"))
            std::printf("%s\n", out["generated"].get<std::string>().c_str());
        return 0;
    }

    const std::vector<std::int64_t> ids = loadEvalTokens(data, checkpoint, config.vocabSize);
    if (!args.value("--logits").empty()) {
        const std::vector<std::int64_t> first(ids.begin(), ids.begin() + std::min<std::size_t>(ids.size(), seqLen));
        writeFileAtomically(args.value("--logits"), npy(model.forward(first)));
    }
    PerplexityOptions options;
    options.seqLen = seqLen;
    options.maxWindows = maxWindows;
    options.protocol = protocolName == "blocks" ? PerplexityProtocol::Blocks : PerplexityProtocol::Overlap;
    TerminalProgress progress;
    PerplexityResult result;
    model.forward({ config.bosToken }); // warm-up (thread pool, first-touch pages), left out of the timing
    const auto started = std::chrono::steady_clock::now();
    if (!scheme) {
        result = evaluatePerplexity(model, ids, options, progress);
    } else {
        const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
        const SelectionResult selection
            = resolveSelection(tree, keepRulesFromArguments(args, checkpoint, tree, *scheme), KeepTarget::Any);
        std::set<std::string> kept;
        for (int m : selection.kept())
            kept.insert(tree.node(m).path);
        std::map<std::string, QuantScheme> own;
        for (const auto& d : selection.modules) {
            if (!d.keep && !d.scheme.empty())
                own[tree.node(d.module).path] = *findSchemePreset(d.scheme);
        }
        out["scheme"] = scheme->name;
        out["kept"] = kept;
        const LlamaModel quantized = LlamaModel::load(checkpoint, config, fakeQuantizeWeights(*scheme, kept, own));
        result = evaluatePerplexity(quantized, ids, options, progress, fakeQuantizeActivations(*scheme, kept), &model);
    }
    progress.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    out["perplexity"] = number(result.perplexity);
    out["tokens"] = result.tokens;
    out["mean_nll"] = number(result.meanNll);
    out["protocol"] = protocolName;
    out["seq_len"] = seqLen;
    out["windows"] = result.windows;
    // The forward passes only (a scheme runs two models): for benchmarks.
    out["seconds"] = seconds;
    out["tokens_per_second"] = number(static_cast<double>(result.tokens) * (result.compared ? 2 : 1) / seconds);
    if (result.compared) {
        out["perplexity_float"] = number(result.referencePerplexity);
        out["perplexity_change"] = number(result.perplexity / result.referencePerplexity - 1);
        out["kl_divergence"] = number(result.klDivergence);
        out["top1_agreement"] = number(result.top1Agreement);
    }
    if (args.has("--json")) {
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    if (out.contains("generated"))
        std::printf("generated: %s\n", out["generated"].get<std::string>().c_str());
    std::printf("perplexity %.4f over %lld predicted tokens (%d windows, %s protocol, sequence length %d)\n",
        result.perplexity, static_cast<long long>(result.tokens), result.windows, protocolName.c_str(), seqLen);
    if (result.compared)
        std::printf("float perplexity %.4f (%+.3f%%), KL %.4g nats/token, top-1 agreement %.2f%% (%s)\n",
            result.referencePerplexity, 100 * (result.perplexity / result.referencePerplexity - 1), result.klDivergence,
            100 * result.top1Agreement, scheme->name.c_str());
    return 0;
}

} // namespace qs::cli
