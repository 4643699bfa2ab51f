// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Token ids to evaluate or calibrate on, from a file.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

namespace qs {

class Checkpoint;
class Tokenizer;

// The tokenizer beside a checkpoint (Checkpoint::tokenizerFile(): llama2.c tok*.bin,
// tokenizer.json, tokenizer.model, vocab.json + merges.txt, vocab.txt or nanoGPT meta.pkl). UsageError saying what is missing when
// there is none.
std::unique_ptr<Tokenizer> tokenizerFor(const Checkpoint& model, std::int64_t vocabSize);

// `.json`: a list of token ids, or a list of such lists (concatenated), unchanged; `.jsonl`:
// one JSON object per line whose "text" is encoded on its own with the model's special tokens
// (Tokenizer::encode(text, true)), documents joined by the end-of-text token (or a newline)
// when the tokenizer marks no sequence itself; anything else: UTF-8 text encoded once the same way (for
// llama2.c: BOS and the dummy prefix). Text needs the model's tokenizer (tokenizerFor). Ids must
// lie in [0, vocabSize): FormatError naming the file and position otherwise.
std::vector<std::int64_t> loadEvalTokens(
    const std::filesystem::path& file, const Checkpoint& model, std::int64_t vocabSize);

} // namespace qs
