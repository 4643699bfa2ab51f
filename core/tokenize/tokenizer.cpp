// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/tokenizer.h"

#include "error.h"
#include "tokenize/char_tokenizer.h"
#include "tokenize/hf_legacy_files.h"
#include "tokenize/hf_tokenizer.h"
#include "tokenize/llama2c_text_tokenizer.h"
#include "tokenize/sentencepiece_tokenizer.h"

#include <cctype>
#include <limits>

namespace qs {
namespace {

bool endsWith(const std::string& s, const std::string& tail)
{
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// N of tok<N>.bin, or 0.
std::int64_t vocabFromName(const std::string& name)
{
    if (name.rfind("tok", 0) != 0 || !endsWith(name, ".bin"))
        return 0;
    const std::string digits = name.substr(3, name.size() - 7);
    if (digits.empty() || digits.size() > 9)
        return 0;
    for (const char c : digits)
        if (!std::isdigit(static_cast<unsigned char>(c)))
            return 0;
    return std::stoll(digits);
}

} // namespace

void checkEncodeSize(std::string_view text, const std::string& file)
{
    if (text.size() > kMaxEncodeBytes)
        throw UsageError("cannot encode " + std::to_string(text.size()) + " bytes of text at once: the limit is "
                + std::to_string(kMaxEncodeBytes) + " bytes (1 GiB); split the text",
            ErrorContext { file, {}, {} });
}

std::unique_ptr<Tokenizer> loadTokenizer(const std::filesystem::path& file, std::int64_t vocabSize)
{
    const std::string name = file.filename().string();
    if (!std::filesystem::exists(file))
        throw IoError("the tokenizer file does not exist", ErrorContext { file.string(), {}, {} });
    if (endsWith(name, "vocab.json"))
        return std::make_unique<HfTokenizer>(hf::tokenizerJsonFromVocabJson(file), file.string());
    if (endsWith(name, "vocab.txt"))
        return std::make_unique<HfTokenizer>(hf::tokenizerJsonFromVocabTxt(file), file.string());
    if (endsWith(name, ".json"))
        return HfTokenizer::read(file);
    if (endsWith(name, ".model"))
        return std::make_unique<SentencePieceTokenizer>(file);
    if (endsWith(name, ".pkl"))
        return CharTokenizer::read(file);
    if (endsWith(name, ".bin")) {
        if (vocabSize <= 0)
            vocabSize = vocabFromName(name);
        if (vocabSize <= 0 || vocabSize > std::numeric_limits<int>::max())
            throw UsageError("a llama2.c tokenizer does not store its vocabulary size: give the model's vocab_size "
                             "(or name the file tok<N>.bin)",
                ErrorContext { file.string(), {}, {} });
        return std::make_unique<Llama2cTextTokenizer>(Llama2cTokenizer::read(file, static_cast<int>(vocabSize)));
    }
    throw UsageError("unknown tokenizer file kind (expected tokenizer.json, vocab.json with merges.txt, vocab.txt, a "
                     "SentencePiece .model, llama2.c tokenizer.bin / tok<N>.bin or nanoGPT meta.pkl)",
        ErrorContext { file.string(), {}, {} });
}

} // namespace qs
