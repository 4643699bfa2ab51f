#pragma once

// Token ids to evaluate or calibrate on, from a file.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace qs {

class Checkpoint;

// `.json`: a list of token ids, or a list of such lists (concatenated); `.jsonl`: one JSON
// object per line whose "text" is encoded on its own (with BOS); anything else: UTF-8 text
// encoded once (BOS and the dummy prefix, as llama2.c does). Text needs the model's tokenizer
// (llama2.c tokenizers for now: UsageError names what is missing). Ids must lie in
// [0, vocabSize): FormatError naming the file and position otherwise.
std::vector<std::int64_t> loadEvalTokens(
    const std::filesystem::path& file, const Checkpoint& model, std::int64_t vocabSize);

} // namespace qs
