// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtime/eval_data.h"

#include "error.h"
#include "io/checkpoint.h"
#include "tokenize/tokenizer.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace qs {
namespace {

std::string readText(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw IoError("cannot read the data file", ErrorContext { file.string(), {}, {} });
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void appendIds(const nlohmann::json& list, std::vector<std::int64_t>& out, const std::filesystem::path& file,
    std::int64_t vocabSize)
{
    for (const auto& v : list) {
        if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() >= vocabSize)
            throw FormatError("token " + std::to_string(out.size()) + " is not an id in [0, "
                    + std::to_string(vocabSize) + "): " + v.dump(),
                ErrorContext { file.string(), {}, {} });
        out.push_back(v.get<std::int64_t>());
    }
}

void appendEncoded(const std::vector<std::int64_t>& encoded, std::vector<std::int64_t>& out,
    const std::filesystem::path& file, std::int64_t vocabSize)
{
    for (const std::int64_t id : encoded) {
        if (id < 0 || id >= vocabSize)
            throw FormatError("the tokenizer gave id " + std::to_string(id) + " at token " + std::to_string(out.size())
                    + ", outside the model's vocabulary of " + std::to_string(vocabSize),
                ErrorContext { file.string(), {}, {} });
        out.push_back(id);
    }
}

} // namespace

std::unique_ptr<Tokenizer> tokenizerFor(const Checkpoint& model, std::int64_t vocabSize)
{
    const std::filesystem::path& file = model.tokenizerFile();
    if (file.empty())
        throw UsageError("the model has no tokenizer beside it (tokenizer.json, tokenizer.model, llama2.c tok*.bin or "
                         "nanoGPT meta.pkl), so text cannot be encoded; pass token ids as a .json list instead");
    return loadTokenizer(file, vocabSize);
}

std::vector<std::int64_t> loadEvalTokens(
    const std::filesystem::path& file, const Checkpoint& model, std::int64_t vocabSize)
{
    const std::string text = readText(file);
    std::vector<std::int64_t> ids;
    const std::string ext = file.extension().string();
    if (ext == ".json") {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw FormatError(std::string("not JSON: ") + e.what(), ErrorContext { file.string(), {}, {} });
        }
        if (!j.is_array())
            throw FormatError("expected a JSON list of token ids", ErrorContext { file.string(), {}, {} });
        if (!j.empty() && j.front().is_array()) {
            for (const auto& seq : j)
                appendIds(seq, ids, file, vocabSize);
        } else {
            appendIds(j, ids, file, vocabSize);
        }
        return ids;
    }
    const std::unique_ptr<Tokenizer> tokenizer = tokenizerFor(model, vocabSize);
    if (ext == ".jsonl") {
        // Documents are concatenated. A tokenizer that marks no sequence (GPT-2's byte-level
        // BPE, nanoGPT characters) gets its end-of-text token between them, or a newline.
        std::vector<std::int64_t> separator;
        if (tokenizer->encode("", true).empty()) {
            if (const auto eos = tokenizer->eosToken())
                separator = { *eos };
            else
                separator = tokenizer->encode("\n", false);
        }
        std::istringstream lines(text);
        std::string line;
        for (int n = 1; std::getline(lines, line); ++n) {
            if (line.find_first_not_of(" \t\r") == std::string::npos)
                continue;
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(line);
            } catch (const nlohmann::json::exception&) {
                throw FormatError("line " + std::to_string(n) + " is not JSON", ErrorContext { file.string(), {}, {} });
            }
            if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
                throw FormatError(
                    "line " + std::to_string(n) + " has no \"text\" string", ErrorContext { file.string(), {}, {} });
            if (!ids.empty())
                appendEncoded(separator, ids, file, vocabSize);
            appendEncoded(tokenizer->encode(j["text"].get<std::string>(), true), ids, file, vocabSize);
        }
        return ids;
    }
    appendEncoded(tokenizer->encode(text, true), ids, file, vocabSize);
    return ids;
}

} // namespace qs
