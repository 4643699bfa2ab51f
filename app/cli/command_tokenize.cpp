// SPDX-License-Identifier: GPL-3.0-or-later
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "tokenize/tokenizer.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <iterator>

namespace qs::cli {
namespace {

std::string tokenizeUsage()
{
    return "quantscope-cli tokenize TOKENIZER (--text STR | --file F) [--no-special] [--vocab-size N] [--json]\n"
           "  Encode text with a tokenizer file (tokenizer.json, SentencePiece .model, llama2.c\n"
           "  tokenizer.bin / tok<N>.bin, nanoGPT meta.pkl) and decode the ids back.\n"
           "  --no-special    do not add the model's special tokens (BOS, [CLS] .. [SEP], ...)\n"
           "  --vocab-size N  tokens of a llama2.c tokenizer.bin (tok<N>.bin names it)\n"
           "  --json          print {\"kind\", \"vocab_size\", \"ids\", \"decoded\"}\n";
}

// Encodes text with a tokenizer file and decodes it back: the interop tests compare this with
// independent implementations.
int runTokenize(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json", "--no-special" };
    spec.values = { "--text", "--file", "--vocab-size" };
    const Arguments args = parseArguments("tokenize", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'tokenize' takes one tokenizer file: quantscope-cli tokenize TOKENIZER (--text STR | --file F)");
    const bool hasText = !args.all("--text").empty(), hasFile = !args.all("--file").empty();
    if (hasText == hasFile)
        throw UsageError("'tokenize' needs exactly one of --text STR and --file F");
    std::string text = args.value("--text");
    if (hasFile) {
        const std::string file = args.value("--file");
        std::ifstream in(file, std::ios::binary);
        if (!in)
            throw IoError("cannot read the text file", ErrorContext { file, {}, {} });
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const auto tokenizer
        = loadTokenizer(args.positional.front(), args.integer("--vocab-size", 0, 1, std::int64_t(1) << 31));
    const std::vector<std::int64_t> ids = tokenizer->encode(text, !args.has("--no-special"));
    const std::string decoded = tokenizer->decode(ids);
    if (args.has("--json")) {
        nlohmann::ordered_json j;
        j["kind"] = tokenizer->kind();
        j["vocab_size"] = tokenizer->vocabSize();
        j["ids"] = ids;
        // Invalid UTF-8 (a byte-level decode of a cut sequence) shows as U+FFFD rather than failing.
        j["decoded"] = decoded;
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return 0;
    }
    for (std::size_t i = 0; i < ids.size(); ++i)
        std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n" << decoded << "\n";
    return 0;
}

} // namespace

extern const Command tokenizeCommand { "tokenize", "encode text with a tokenizer file and decode it back",
    tokenizeUsage, runTokenize };

} // namespace qs::cli
