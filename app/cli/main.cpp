// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli: the command-line twin of the QuantScope GUI, for batch and scripted use.
#include "commands.h"
#include "error.h"
#include "jobs/threads.h"
#include "keep_options.h"

#include <cstdio>
#include <string>
#include <vector>

namespace qs::cli {

std::string usage(const std::string& command)
{
    if (command == "demo")
        return "quantscope-cli demo -o DIR [--force]\n"
               "  Write the built-in demo model (a small Llama-shaped bf16 checkpoint) to DIR.\n";
    if (command == "inspect")
        return "quantscope-cli inspect PATH [--tensor NAME] [--json]\n"
               "  Summarise a checkpoint and list its tensors. PATH: a .safetensors file, a PyTorch\n"
               "  .pt/.bin/.pth (zip or legacy; state dicts, nanoGPT ckpt.pt, qmodel_for_aiu.pt), a\n"
               "  llama2.c .bin, an index (model.safetensors.index.json, pytorch_model.bin.index.json)\n"
               "  or a model folder. Already-quantized checkpoints show their scheme.\n"
               "  --json  print {\"format\", \"layout\", \"path\", \"files\", \"shards\", \"bytes_on_disk\",\n"
               "          \"model_type\", \"parameter_count\", \"total_bytes\", \"dtype_mix\", \"tied\",\n"
               "          \"quantization\", \"tokenizer\", \"notes\", \"metadata\", \"config\",\n"
               "          \"tensors\": [{\"name\", \"dtype\", \"shape\", \"bytes\", ...}]}\n"
               "  --tensor NAME  statistics of one tensor (dequantized when stored quantized) and what\n"
               "          int8 per-channel would do to it; with --json: {\"name\", \"dtype\", \"shape\",\n"
               "          \"stored_quantization\", \"values\": {...}, \"int8_per_channel\": {...}}\n";
    if (command == "schemes")
        return "quantscope-cli schemes [--json]\n"
               "  List the quantization scheme presets (NxD, vLLM compressed-tensors, IBM AIU, nanoGPT).\n"
               "  --json  every field of every preset: [{\"name\", \"description\", \"format\", \"bits\",\n"
               "          \"symmetric\", \"granularity\", \"axis\", \"group_size\", \"rounding\", \"seed\",\n"
               "          \"clipping\", \"percentile\", \"fp8_max\", \"convention\",\n"
               "          \"recompute_narrow_weights\", \"narrow_std_threshold\", \"activations\",\n"
               "          \"nanogpt_quirks\", \"weight_dtype_math\"}]\n";
    if (command == "select")
        return "quantscope-cli select PATH [keep options] [--target T] [--scheme PRESET] [--json]\n"
               "                      [--write FORMAT -o FILE]\n"
               "  Resolve keep rules against a checkpoint: for every quantizable (Linear) module, whether it\n"
               "  stays in full precision and the rule that decided it (rules apply in order; the last\n"
               "  matching rule wins; unmatched modules are quantized), with warnings: rules that match\n"
               "  nothing, NxD substrings that also match inside names (layers.1 vs layers.10), fused\n"
               "  q/k/v or gate/up groups with mixed status, modules the target cannot keep.\n"
            + keepOptionsUsage()
            + "  --target T           any (default), nxd, compressed-tensors, aiu: add that format's checks\n"
              "  --scheme PRESET      the scheme --keep-worst/--keep-below measure with (nxd-int8)\n"
              "  --write FORMAT -o FILE  write the kept modules as nxd-json, nxd-json-model,\n"
              "                       nxd-json-draft, ct-ignore, recipe, fms-mo or text\n"
              "  --json               print {\"modules\": [{\"name\", \"keep\", \"rule\"}], \"warnings\":\n"
              "                       [{\"kind\", \"message\", \"modules\"}], \"kept\", \"quantized\"}\n";
    if (command == "stats")
        return "quantscope-cli stats PATH [--tensor NAME]... [--scheme PRESET] [--bins N] [--histogram]\n"
               "                     [--channels] [--compare OTHER] [--json]\n"
               "  Statistics of every tensor (or of the named ones), computed as the GUI's analysis views do.\n"
               "  --scheme PRESET   also quantize: Linear weights (and any floating tensor named with\n"
               "                    --tensor) get the error and the per-channel std of their int codes\n"
               "  --bins N          histogram bins (default 200)\n"
               "  --histogram       include the histogram counts (and the code histogram)\n"
               "  --channels        include per-channel min, max, mean, std and abs-max\n"
               "  --compare OTHER   the same tensors in another checkpoint (e.g. an export): its statistics\n"
               "                    and the difference (MSE, SQNR, cosine, max |error|)\n"
               "  --json            print {\"path\", \"scheme\", \"tensors\": [{\"name\", \"dtype\", \"shape\",\n"
               "                    \"count\", \"min\", \"max\", \"mean\", \"std\", \"kurtosis\", \"zeros\",\n"
               "                    \"sparsity\", \"non_finite\", \"outliers\", \"outlier_share\", \"percentiles\",\n"
               "                    \"outlier_channels\", \"quantized\", and with a scheme \"mse\", \"sqnr_db\",\n"
               "                    \"cosine\", \"max_abs_error\", \"code_std\" [per channel], \"code_std_min\",\n"
               "                    \"channels_below_threshold\", \"code_std_before\", ...}]}\n";
    if (command == "plot")
        return "quantscope-cli plot PATH --tensor NAME --kind KIND -o FILE.png|svg|pdf [--scheme PRESET]\n"
               "                    [--width W] [--height H] [--bins N] [--linear] [--field values|error]\n"
               "                    [--reduction absmax|mean] [--compare OTHER]\n"
               "  Draw one of the GUI's analysis plots to a file (no display needed).\n"
               "  --kind histogram  float values, and the dequantized ones with --scheme (log counts unless\n"
               "                    --linear); with --compare, the same tensor of OTHER overlaid\n"
               "  --kind codes      how often each int/fp8 code is used, saturation marked (needs --scheme)\n"
               "  --kind heatmap    the weight matrix reduced to the image (block abs-max or mean); --field\n"
               "                    error draws float minus dequantized (needs --scheme)\n"
               "  --kind channels   per output channel: the std of the int codes against the threshold 20\n"
               "                    (needs --scheme), or min/max/mean ranges with --field values\n"
               "  --width, --height image size in pixels (default 1000 x 600)\n";
    if (command == "calibrate")
        return "quantscope-cli calibrate MODEL --data FILE -o OUT.h5 [--seq-len N] [--samples N] [--seed N]\n"
               "                         [--sample-rows N] [--bins N] [--linear-only] [--force] [--json]\n"
               "  Run the model (any supported family) on sample windows of the data and store, for the input of every\n"
               "  Linear module and the twelve named points of each layer (attention input, q, k, softmax\n"
               "  input, probabilities, v, PV output, attention output; MLP input, activation input and\n"
               "  output, MLP output), per-channel min/max/abs-max/mean/mean-square, the per-token max, a\n"
               "  histogram and the first rows, in OUT.h5 (/activations/<point>/...).\n"
               "  --data FILE      token ids (.json), JSON lines with \"text\", or text (the model's tokenizer)\n"
               "  --seq-len N      tokens per window (default 256); --samples N windows (default 16)\n"
               "  --seed N         shuffle the windows with this seed (default 0: the first windows)\n"
               "  --sample-rows N  raw rows kept per point for heatmaps (default 256)\n"
               "  --linear-only    only the Linear inputs\n"
               "  --json           print {\"file\", \"points\", \"tokens\", \"windows\", \"seq_len\", "
               "\"model_type\"}\n";
    if (command == "tokenize")
        return "quantscope-cli tokenize TOKENIZER (--text STR | --file F) [--no-special] [--vocab-size N] [--json]\n"
               "  Encode text with a tokenizer file (tokenizer.json, SentencePiece .model, llama2.c\n"
               "  tokenizer.bin / tok<N>.bin, nanoGPT meta.pkl) and decode the ids back.\n"
               "  --no-special    do not add the model's special tokens (BOS, [CLS] .. [SEP], ...)\n"
               "  --vocab-size N  tokens of a llama2.c tokenizer.bin (tok<N>.bin names it)\n"
               "  --json          print {\"kind\", \"vocab_size\", \"ids\", \"decoded\"}\n";
    if (command == "eval")
        return "quantscope-cli eval MODEL --data FILE [--seq-len N] [--protocol overlap|blocks|masked]\n"
               "                    [--scheme PRESET [--activations MODE]] [keep options] [--max-windows N]\n"
               "                    [--logits OUT.npy] [--generate N] [--json]\n"
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
               "  --max-windows N    evaluate only the first N windows\n"
               "  --logits OUT.npy   write the float logits of the first window ([T, vocab] float32)\n"
               "  --generate N       greedy decoding of N tokens from BOS (\"generated\" in the output)\n"
            + keepOptionsUsage()
            + "  --json             print {\"perplexity\", \"tokens\", \"mean_nll\", \"protocol\", \"seq_len\",\n"
              "                     \"windows\", \"seconds\", \"tokens_per_second\" (forward passes only), and with "
              "--scheme \"perplexity_float\", \"perplexity_change\",\n"
              "                     \"kl_divergence\", \"top1_agreement\", \"scheme\", \"activations\", \"kept\"};\n"
              "                     \"perplexity\" is the quantized model's when a scheme is given\n";
    if (command == "convert")
        return "quantscope-cli convert PATH -o OUT --format FORMAT [--scheme PRESET] [keep "
               "options] "
               "[--force]\n"
               "                       [--json] [--max-shard-size SIZE] [scheme field options]\n"
               "  Quantize every Linear weight with a scheme and write OUT.\n"
               "  --scheme PRESET      nxd-int8 (default), nxd-int8-tensor, nxd-fp8 (e4m3 within +-240),\n"
               "                       nxd-fp8-e5m2, ... ('quantscope-cli schemes' lists them all; the\n"
               "                       nxd format accepts the nxd-* presets)\n"
               "  --bits N, --granularity tensor|channel|group, --group-size N, --symmetric, --affine,\n"
               "  --rounding nearest-even|stochastic, --fp8-max X, --recompute-narrow-weights, --seed N\n"
               "                       override single fields of the preset\n"
               "  --float32-math       compressed-tensors presets: compute in float32 instead of the\n"
               "                       weight's bf16/fp16 (llm-compressor's own, bit-exact, the default)\n"
               "  --format nxd         AWS Neuron NxD: <module>.weight int8 + <module>.scale float32 [out,1],\n"
               "                       modules_to_not_convert.json (default scheme nxd-int8)\n"
               "  --nxd-keep-shape S   modules_to_not_convert.json as flat (default), model ({\"model\": ...})\n"
               "                       or draft (with the same list for \"draft_model\")\n"
               "  --format compressed-tensors  vLLM: int-quantized (vllm-w8a8-int8, the default),\n"
               "                       float-quantized (vllm-fp8-dynamic), pack-quantized (vllm-w4a16,\n"
               "                       vllm-w8a16); config.json gains quantization_config with the kept\n"
               "                       Linear modules in ignore; recipe.yaml\n"
               "  --format aiu         IBM AIU (fms-mo): qmodel_for_aiu.pt (int8 weights, fp16 clip_val, the\n"
               "                       rest fp16) + qcfg.json; llama, granite, gpt_bigcode, bert, roberta\n"
               "                       (default scheme aiu-int8, with narrow-weight recomputation)\n"
               "  --format hdf5        an analysis dump, quantscope_dump.h5: per quantized weight its codes,\n"
               "                       scale, zero point, code histogram and per-row code std, with the\n"
               "                       scheme and error as attributes (any scheme; default nxd-int8)\n"
               "  --hdf5-original      also store every tensor's float32 values\n"
               "  --hdf5-gzip N        gzip level of the dump's datasets (default 4, 0 for none)\n"
               "  --format nxd-fp8-rescale  an fp8 e4m3 checkpoint (+-448, e.g. compressed-tensors FP8)\n"
               "                       rescaled for Neuron's +-240: weights / (448/240), scales * 448/240\n"
            + keepOptionsUsage()
            + "  --force              replace OUT if it exists\n"
              "  --max-shard-size S   shard size such as 10GB (default) or 500MB\n"
              "  --workers N          tensors quantized at once (default: one per core)\n"
              "  --memory-budget S    bound on the input bytes in flight, such as 2GiB (default)\n"
              "  --json               print a report with per-tensor errors\n";
    return "usage: quantscope-cli COMMAND [OPTIONS]\n\n"
           "commands:\n"
           "  demo      write the built-in demo model\n"
           "  inspect   list a checkpoint's tensors\n"
           "  convert   quantize and export a checkpoint\n"
           "  schemes   list the quantization scheme presets\n"
           "  select    show which modules stay in full precision, and why\n"
           "  stats     statistics of tensors, with a scheme's error and code std\n"
           "  plot      draw a histogram, code histogram, heatmap or channel plot to PNG/SVG/PDF\n"
           "  eval      run the model on text: perplexity, float vs quantized\n"
           "  calibrate record activation statistics on text into an HDF5 file\n"
           "  tokenize  encode text with a tokenizer file and decode it back\n"
           "  help      show the usage of a command\n\n"
           "'quantscope-cli help COMMAND' shows its options. Exit codes: 0 success, 1 error,\n"
           "2 bad usage, 130 cancelled (Ctrl+C; nothing is left behind).\n";
}

} // namespace qs::cli

int main(int argc, char* argv[])
{
    using namespace qs::cli;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::fputs(usage().c_str(), stderr);
        return 2;
    }
    const std::string command = args.front();
    args.erase(args.begin());
    qs::useIntraOpThreads();
    try {
        if (command == "--version" || command == "version") {
            std::printf("quantscope-cli %s\n", QUANTSCOPE_VERSION);
            return 0;
        }
        if (command == "help" || command == "--help" || command == "-h") {
            std::fputs(usage(args.empty() ? std::string() : args.front()).c_str(), stdout);
            return 0;
        }
        if (command == "demo")
            return runDemo(args);
        if (command == "inspect")
            return runInspect(args);
        if (command == "convert")
            return runConvert(args);
        if (command == "schemes")
            return runSchemes(args);
        if (command == "select")
            return runSelect(args);
        if (command == "stats")
            return runStats(args);
        if (command == "plot")
            return runPlot(args);
        if (command == "eval")
            return runEval(args);
        if (command == "calibrate")
            return runCalibrate(args);
        if (command == "tokenize")
            return runTokenize(args);
        throw qs::UsageError("unknown command '" + command + "'");
    } catch (const qs::UsageError& e) {
        std::fprintf(stderr, "quantscope-cli: %s\n", e.what());
        if (command != "help")
            std::fprintf(stderr, "run 'quantscope-cli help' for usage\n");
        return 2;
    } catch (const qs::CancelledError&) {
        std::fprintf(stderr, "quantscope-cli: cancelled; nothing was written\n");
        return 130;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "quantscope-cli: error: %s\n", e.what());
        return 1;
    }
}
