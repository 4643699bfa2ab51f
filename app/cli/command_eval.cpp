// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli eval MODEL --data FILE [--scheme PRESET] [--seq-len N] [--json]`: runs the
// model natively on the data and reports its perplexity; with a scheme, the fake-quantized
// model against the float one (KL divergence, top-1 agreement).
#include "algorithm_options.h"
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "eval_options.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "keep_options.h"
#include "model/module_tree.h"
#include "jobs/progress.h"
#include "models/block.h"
#include "models/model_config.h"
#include "quant/quant_scheme.h"
#include "runtime/block_runner.h"
#include "runtime/eval_data.h"
#include "runtime/evaluation.h"
#include "runtime/recipe_comparison.h"
#include "runtime/generation.h"
#include "runtime/memory.h"
#include "runtime/perplexity.h"
#include "scheme_option.h"
#include "select/selection.h"
#include "terminal_progress.h"
#include "tokenize/tokenizer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

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

std::string evalUsage()
{
    return "quantscope-cli eval MODEL --data FILE [--seq-len N] [--protocol overlap|blocks|masked]\n"
           "                    [--scheme PRESET [--activations MODE]] [keep options] [--max-windows N]\n"
           "                    [--logits OUT.npy] [--generate N] [--max-memory SIZE] [--json]\n"
           "  Run the model natively (Llama family: llama, mistral, qwen2, granite, llama2.c; GPT-2 and\n"
           "  nanoGPT; BERT and RoBERTa) on the data and report its perplexity (masked-LM pseudo-perplexity\n"
           "  for an encoder). With --scheme, every Linear weight (but the kept ones) is quantized and\n"
           "  dequantized, the scheme's activations are simulated, and the result is compared with the\n"
           "  float model.\n"
           "  --data FILE        token ids (.json list, or list of lists), JSON lines with \"text\", or text\n"
           "                     (encoded with the model's tokenizer: tokenizer.json, SentencePiece .model,\n"
           "                     llama2.c tok*.bin or nanoGPT meta.pkl)\n"
           "  --seq-len N        window length (default 256)\n"
           "  --protocol P       overlap (decoders' default): windows of N+1 tokens overlapping by one, every\n"
           "                     token after the first predicted once; blocks: fms-mo's disjoint blocks of N;\n"
           "                     masked (encoders' default): disjoint windows, every token masked once with\n"
           "                     one in --mask-every N (default 7) hidden per pass\n"
           "  --mask-token ID    the mask token when the tokenizer does not name one\n"
           "  --activations M    override the scheme's activations: none, int8-token-dynamic,\n"
           "                     fp8-token-dynamic, int8-tensor-static, fp8-tensor-static (static ranges are\n"
           "                     measured on --calibration-samples N windows (default 8) of\n"
           "                     --calibration-data FILE, by default the evaluation data)\n"
           "  --gptq             quantize the weights with GPTQ (llm-compressor's GPTQModifier) instead of\n"
           "                     rounding, layer by layer on the calibration windows (--calibration-data,\n"
           "                     --calibration-samples N (default 8), --calibration-seq-len N (default\n"
           "                     --seq-len)); --gptq-block-size N (128), --gptq-dampening F (0.01),\n"
           "                     --gptq-actorder static|group|none (static); --no-propagate-error feeds each\n"
           "                     layer the float model's outputs instead of the GPTQ'd ones\n"
           "  --smoothquant A    SmoothQuant (llm-compressor's SmoothQuantModifier, smoothing strength A in\n"
           "                     [0, 1], 0.8 in its W8A8 example) before GPTQ and the static ranges: the\n"
           "                     family's norm -> Linear mappings, ranges from the calibration windows\n"
           "                     (with an fms-mo scheme, aiu-int8: fms-mo's SmoothQuant as the AIU export\n"
           "                     writes it, W * s quantized and the input divided by s)\n"
           "  --awq              AWQ (llm-compressor's AWQ transform) before the rounding or GPTQ, for\n"
           "                     weight-only schemes; --awq-duo-scaling true|false|both (true), --awq-grid N\n"
           "                     (20); --awq-clip: llm-awq's clip search after the scales\n"
           "  --rotate R         fuse rotations into the weights first (Llama family): hadamard or random;\n"
           "                     --rotate-seed N (0); --rotate-online (QuaRot's online Hadamard on the down\n"
           "                     projection's input); \"rotation\" in the JSON\n"
           "  --spinquant        learn R1 and R2 (SpinQuant, Cayley SGD) on the calibration windows from the\n"
           "                     --rotate rotation (hadamard), the scheme's quantization in the loss (weights\n"
           "                     float when --gptq follows): --spinquant-steps N (100), --spinquant-lr F\n"
           "                     (1.5); \"spinquant\" in the JSON (initial_loss, final_loss, losses per step)\n"
           "  --recipe FILE      an llm-compressor recipe (YAML) instead of --scheme, --smoothquant and\n"
           "                     --gptq: its modifiers' scheme, algorithms and ignore list\n"
           "  --max-windows N    evaluate only the first N windows\n"
           "  --logits OUT.npy   write the float logits of the first window ([T, vocab] float32)\n"
           "  --generate N       greedy decoding of N tokens from BOS (\"generated\" in the output)\n"
           "  --max-memory SIZE  the resident memory to plan for (800M, 1.5G; default: 80% of what the\n"
           "                     machine has available). The model runs block by block: one layer's weights\n"
           "                     at a time, hidden states beyond the limit in a temporary file (--spill-dir\n"
           "                     DIR, default the temporary folder)\n"
        + keepOptionsUsage()
        + "  --json             print {\"perplexity\", \"tokens\", \"mean_nll\", \"protocol\", \"seq_len\",\n"
          "                     \"windows\", \"seconds\" (the whole run), \"forward_seconds\",\n"
          "                     \"tokens_per_second\" (forward passes only), \"block_load_seconds\",\n"
          "                     \"quantize_seconds\", \"head_seconds\", \"peak_rss_bytes\",\n"
          "                     \"max_memory_bytes\", \"hidden_bytes\", \"spilled_bytes\",\n"
          "                     \"largest_block_bytes\"} and with --scheme \"perplexity_float\",\n"
          "                     \"perplexity_change\", \"kl_divergence\", \"top1_agreement\", \"scheme\",\n"
          "                     \"activations\", \"kept\", \"blocks\": [{\"block\", \"name\", \"relative_mse\",\n"
          "                     \"cosine\"}] (per layer) and \"modules\": [{\"name\", \"block\",\n"
          "                     \"own_relative_mse\", \"accumulated_relative_mse\" (and \"gptq_loss\")}],\n"
          "                     \"algorithms\" ([\"smoothquant\" or \"awq\", \"gptq\"] as run), \"smoothquant\":\n"
          "                     {\"alpha\", \"smoothed_norms\", \"balance_layers\"}, \"warnings\"; \"perplexity\"\n"
          "                     is the quantized model's when a scheme is given\n";
}

// --generate N (into `out`) and --logits OUT.npy: the float model on its own.
void runFloatModel(const Arguments& args, const Checkpoint& checkpoint, const ModelConfig& config,
    const EvaluationRequest& request, int generate, nlohmann::ordered_json& out)
{
    const std::unique_ptr<ModelBlocks> model = ModelBlocks::open(checkpoint, config);
    NullProgress quiet;
    if (generate > 0) {
        GenerationOptions options;
        options.steps = generate;
        options.maxMemory = request.maxMemory;
        const std::vector<std::int64_t> ids = generateGreedy(*model, { config.bosToken }, options, quiet);
        out["generated_ids"] = ids;
        if (!checkpoint.tokenizerFile().empty())
            out["generated"] = loadTokenizer(checkpoint.tokenizerFile(), config.vocabSize)->decode(ids);
    }
    if (!args.value("--logits").empty()) {
        if (request.data.empty())
            throw UsageError("--logits needs --data");
        const std::vector<std::int64_t> ids = loadEvalTokens(request.data, checkpoint, config.vocabSize);
        const std::vector<std::int64_t> first(
            ids.begin(), ids.begin() + std::min<std::size_t>(ids.size(), request.seqLen));
        BlockRunOptions options;
        options.maxMemory = request.maxMemory;
        options.spillDirectory = request.spillDirectory;
        writeFileAtomically(args.value("--logits"), npy(blockLogits(*model, { first }, options, quiet).front()));
    }
}

void addReportJson(const EvaluationReport& report, const EvaluationRequest& request, nlohmann::ordered_json& out)
{
    out["perplexity"] = number(report.quantized ? report.perplexity : report.floatPerplexity);
    out["tokens"] = report.tokens;
    out["mean_nll"] = number(report.quantized ? report.meanNll : report.floatMeanNll);
    out["protocol"] = report.protocol;
    out["seq_len"] = request.seqLen;
    out["windows"] = report.windows;
    // The whole block-by-block run, and of it the forward passes alone (a scheme runs two models,
    // and the per-module errors a third set of the quantized Linears): for benchmarks.
    out["seconds"] = report.seconds;
    const double forward = report.seconds - report.blockLoadSeconds - report.quantizeSeconds;
    out["forward_seconds"] = forward;
    out["tokens_per_second"]
        = number(static_cast<double>(report.forwardTokens) * (report.quantized ? 2 : 1) / forward);
    out["block_load_seconds"] = report.blockLoadSeconds;
    out["quantize_seconds"] = report.quantizeSeconds;
    out["head_seconds"] = report.headSeconds;
    out["max_memory_bytes"] = report.maxMemory;
    out["hidden_bytes"] = report.hiddenBytes;
    out["spilled_bytes"] = report.spilledBytes;
    out["largest_block_bytes"] = report.largestBlockBytes;
    out["peak_rss_bytes"] = report.peakRssBytes;
    if (report.quantized) {
        out["scheme"] = report.schemeName;
        out["activations"] = report.activations;
        if (report.calibrationWindows > 0)
            out["calibration_windows"] = report.calibrationWindows;
        out["kept"] = request.kept;
        out["quantized_modules"] = report.quantizedModules;
        out["perplexity_float"] = number(report.floatPerplexity);
        out["perplexity_change"] = number(report.perplexity / report.floatPerplexity - 1);
        out["kl_divergence"] = number(report.klDivergence);
        out["top1_agreement"] = number(report.top1Agreement);
        nlohmann::ordered_json blocks = nlohmann::ordered_json::array();
        for (std::size_t i = 0; i < report.blocks.size(); ++i)
            blocks.push_back({ { "block", i }, { "name", report.blocks[i].name },
                { "relative_mse", number(report.blocks[i].relativeMse) }, { "cosine", number(report.blocks[i].cosine) } });
        out["blocks"] = std::move(blocks);
        nlohmann::ordered_json modules = nlohmann::ordered_json::array();
        for (const ModuleDivergence& m : report.modules) {
            nlohmann::ordered_json entry { { "name", m.module }, { "block", m.block },
                { "own_relative_mse", number(m.ownRelativeMse) },
                { "accumulated_relative_mse", number(m.accumulatedRelativeMse) } };
            if (const auto loss = report.gptqLoss.find(m.module); loss != report.gptqLoss.end())
                entry["gptq_loss"] = number(loss->second);
            modules.push_back(std::move(entry));
        }
        out["modules"] = std::move(modules);
        out["algorithms"] = report.algorithms;
        if (!report.rotation.empty())
            out["rotation"] = report.rotation;
        if (report.spinQuant)
            out["spinquant"] = spinQuantJson(*report.spinQuant);
        if (request.smoothQuant)
            out["smoothquant"] = { { "alpha", report.smoothQuantAlpha }, { "smoothed_norms", report.smoothedNorms },
                { "balance_layers", report.smoothedModules } };
        if (!report.warnings.empty())
            out["warnings"] = report.warnings;
    }
}

void printReport(const EvaluationReport& report, const EvaluationRequest& request, const nlohmann::ordered_json& out)
{
    if (out.contains("generated"))
        std::printf("generated: %s\n", out["generated"].get<std::string>().c_str());
    const double ppl = report.quantized ? report.perplexity : report.floatPerplexity;
    std::printf("%s %.4f over %lld predicted tokens (%d windows, %s protocol, sequence length %d)\n",
        report.protocol == "masked" ? "pseudo-perplexity" : "perplexity", ppl, static_cast<long long>(report.tokens),
        report.windows, report.protocol.c_str(), request.seqLen);
    if (report.quantized)
        std::printf("float %.4f (%+.3f%%), KL %.4g nats/token, top-1 agreement %.2f%% (%s, activations %s)\n",
            report.floatPerplexity, 100 * (report.perplexity / report.floatPerplexity - 1), report.klDivergence,
            100 * report.top1Agreement, report.schemeName.c_str(), report.activations.c_str());
    if (!report.blocks.empty()) {
        std::printf("hidden-state divergence from the float model, per layer (relative MSE):\n");
        for (const BlockDivergence& b : report.blocks)
            std::printf("  %-32s %.3e  cosine %.6f\n", b.name.c_str(), b.relativeMse, b.cosine);
    }
    std::printf("peak memory %s (limit %s; hidden states %s, %s spilled to disk)\n",
        formatBytes(report.peakRssBytes).c_str(), formatBytes(report.maxMemory).c_str(),
        formatBytes(report.hiddenBytes).c_str(), formatBytes(report.spilledBytes).c_str());
}

int runEval(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json" };
    spec.values = { "--logits", "--generate" };
    addEvaluationOptions(spec);
    addKeepOptions(spec);
    const Arguments args = parseArguments("eval", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'eval' needs exactly one model: quantscope-cli eval MODEL --data FILE [--json]");
    const int generate = static_cast<int>(args.integer("--generate", 0, 0, 100000));
    if (args.value("--data").empty() && generate == 0)
        throw UsageError("eval needs --data FILE (token ids as .json, .jsonl with \"text\", or text)");
    EvaluationRequest request = evaluationRequest(args);

    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    const ModelConfig config = modelConfigFromJson(checkpoint.config());
    nlohmann::ordered_json out;
    out["model"] = args.positional.front();
    out["model_type"] = config.modelType;
    if (generate > 0 || !args.value("--logits").empty())
        runFloatModel(args, checkpoint, config, request, generate, out);
    if (request.data.empty()) {
        if (args.has("--json"))
            std::cout << out.dump(2) << "\n";
        else if (out.contains("generated"))
            std::printf("%s\n", out["generated"].get<std::string>().c_str());
        return 0;
    }

    if (request.scheme) {
        const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
        const SelectionResult selection
            = resolveSelection(tree, keepRulesFromArguments(args, checkpoint, tree, *request.scheme), KeepTarget::Any);
        addSelectedModules(tree, selection, request.kept, request.moduleSchemes);
    }
    TerminalProgress progress;
    const EvaluationReport report = evaluateCheckpoint(checkpoint, request, progress);
    progress.finish();
    addReportJson(report, request, out);
    if (args.has("--json"))
        std::cout << out.dump(2) << "\n";
    else
        printReport(report, request, out);
    return 0;
}

std::string compareRecipesUsage()
{
    return "quantscope-cli compare-recipes MODEL --data FILE --scheme PRESET [--recipes LIST]\n"
           "                    [eval's options: --seq-len, --max-windows, keep options, --calibration-data,\n"
           "                    --calibration-samples, --calibration-seq-len, --gptq-*, --awq-*, --rotate-seed,\n"
           "                    --spinquant-steps N, --spinquant-lr F, --smoothquant A] [--json]\n"
           "  Which calibration recipe wins for this model: the same evaluation as eval (data, windows,\n"
           "  scheme, calibration samples) once per recipe, one table. The float model is the reference.\n"
           "  --recipes LIST     recipes separated by commas, each a + list of rtn, gptq, awq, smoothquant\n"
           "                     (at --smoothquant A, default 0.8), hadamard, random, online, spinquant (default:\n"
           "                     "
        + std::string(defaultRecipeCandidates())
        + ")\n"
          "  --json             print {\"model\", \"scheme\", \"perplexity_float\", \"recipes\": [{\"name\",\n"
          "                     \"algorithms\", \"perplexity\", \"perplexity_change\", \"kl_divergence\",\n"
          "                     \"top1_agreement\", \"seconds\", \"peak_rss_bytes\"} or {\"name\", \"error\"}],\n"
          "                     \"best\" (the lowest KL divergence)}\n";
}

int runCompareRecipes(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json" };
    spec.values = { "--recipes" };
    addEvaluationOptions(spec);
    addKeepOptions(spec);
    const Arguments args = parseArguments("compare-recipes", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'compare-recipes' needs exactly one model: quantscope-cli compare-recipes MODEL --data FILE "
                         "--scheme PRESET");
    if (args.value("--data").empty() || args.value("--scheme").empty())
        throw UsageError("compare-recipes needs --data FILE and --scheme PRESET");
    for (const char* o : { "--gptq", "--awq", "--spinquant" }) {
        if (args.has(o))
            throw UsageError(std::string("compare-recipes runs the recipes of --recipes: drop ") + o);
    }
    if (!args.value("--rotate").empty() || !args.value("--recipe").empty())
        throw UsageError("compare-recipes runs the recipes of --recipes: drop --rotate and --recipe");
    const double alpha
        = args.value("--smoothquant").empty() ? 0.8 : fractionOption(args.value("--smoothquant"), "--smoothquant", true);
    const std::vector<RecipeCandidate> candidates = parseRecipeCandidates(
        args.value("--recipes").empty() ? defaultRecipeCandidates() : args.value("--recipes"), alpha);
    // The base evaluation; the recipes add the algorithms (SpinQuant's steps and learning rate are
    // the options', for the recipes that learn).
    Arguments base = args;
    if (base.values.count("--spinquant-steps") || base.values.count("--spinquant-lr"))
        base.flags.insert("--spinquant");
    EvaluationRequest request = evaluationRequest(base);
    request.smoothQuant.reset();
    request.spinQuant = false;
    request.rotation.clear();
    const Checkpoint checkpoint = Checkpoint::open(args.positional.front());
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    const SelectionResult selection
        = resolveSelection(tree, keepRulesFromArguments(args, checkpoint, tree, *request.scheme), KeepTarget::Any);
    addSelectedModules(tree, selection, request.kept, request.moduleSchemes);
    TerminalProgress progress;
    const std::vector<RecipeComparisonRow> rows = compareRecipes(checkpoint, request, candidates, progress);
    progress.finish();

    nlohmann::ordered_json out;
    out["model"] = args.positional.front();
    out["scheme"] = request.scheme->name;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    std::string best;
    double bestKl = 0;
    for (const RecipeComparisonRow& r : rows) {
        if (!r.error.empty()) {
            list.push_back({ { "name", r.name }, { "error", r.error } });
            continue;
        }
        out["perplexity_float"] = number(r.report.floatPerplexity);
        list.push_back({ { "name", r.name }, { "algorithms", r.report.algorithms },
            { "perplexity", number(r.report.perplexity) },
            { "perplexity_change", number(r.report.perplexity / r.report.floatPerplexity - 1) },
            { "kl_divergence", number(r.report.klDivergence) }, { "top1_agreement", number(r.report.top1Agreement) },
            { "seconds", r.seconds }, { "peak_rss_bytes", r.peakRssBytes } });
        if (best.empty() || r.report.klDivergence < bestKl) {
            best = r.name;
            bestKl = r.report.klDivergence;
        }
    }
    out["recipes"] = std::move(list);
    out["best"] = best;
    if (args.has("--json")) {
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::printf("%-22s %12s %9s %12s %8s %9s %10s\n", "recipe", "perplexity", "change", "KL", "top-1", "seconds",
        "peak");
    for (const RecipeComparisonRow& r : rows) {
        if (!r.error.empty()) {
            std::printf("%-22s %s\n", r.name.c_str(), r.error.c_str());
            continue;
        }
        std::printf("%-22s %12.4f %+8.3f%% %12.4g %7.2f%% %9.1f %10s\n", r.name.c_str(), r.report.perplexity,
            100 * (r.report.perplexity / r.report.floatPerplexity - 1), r.report.klDivergence,
            100 * r.report.top1Agreement, r.seconds, formatBytes(r.peakRssBytes).c_str());
    }
    if (!best.empty())
        std::printf("best (lowest KL): %s\n", best.c_str());
    return 0;
}

} // namespace

extern const Command compareRecipesCommand { "compare-recipes",
    "evaluate several calibration recipes (RTN, GPTQ, AWQ, rotations) on the same data", compareRecipesUsage,
    runCompareRecipes };

extern const Command evalCommand { "eval", "run the model on text: perplexity, float vs quantized", evalUsage,
    runEval };

} // namespace qs::cli
