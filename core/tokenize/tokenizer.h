// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Text to token ids and back, for calibration and evaluation text: one interface over the
// tokenizer files that sit beside checkpoints.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

class Tokenizer
{
public:
    virtual ~Tokenizer() = default;

    // "llama2c", "bpe", "wordpiece", "wordlevel", "sentencepiece" or "char".
    virtual std::string kind() const = 0;
    // Ids lie in [0, vocabSize()).
    virtual std::int64_t vocabSize() const = 0;
    // `addSpecial` adds what the model expects around one sequence: BOS for llama2.c and
    // SentencePiece models, the post-processor's tokens for tokenizer.json ([CLS] .. [SEP] for
    // BERT, <s> .. </s> for RoBERTa, nothing for GPT-2), nothing for character vocabularies.
    // UsageError for text longer than kMaxEncodeBytes (split it first).
    virtual std::vector<std::int64_t> encode(std::string_view text, bool addSpecial) const = 0;
    // Special tokens are skipped. UsageError for an id outside the vocabulary.
    virtual std::string decode(const std::vector<std::int64_t>& ids) const = 0;
    // The id of a token as the vocabulary spells it ("Ġthe", "##ing", "<s>"), or nothing.
    virtual std::optional<std::int64_t> tokenId(std::string_view token) const = 0;
    virtual std::optional<std::int64_t> maskToken() const { return std::nullopt; } // [MASK] / <mask>
    virtual std::optional<std::int64_t> bosToken() const { return std::nullopt; }
    virtual std::optional<std::int64_t> eosToken() const { return std::nullopt; }
};

// The most text one encode() call takes: 1 GiB (ICU indexes UTF-16 text with int32_t).
constexpr std::size_t kMaxEncodeBytes = std::size_t(1) << 30;
// UsageError naming `file` when `text` is longer than kMaxEncodeBytes.
void checkEncodeSize(std::string_view text, const std::string& file);

// Chooses by file name: llama2.c `tokenizer.bin` / `tok*.bin` (reading `vocabSize` tokens; a
// `tok<N>.bin` name gives N when vocabSize is 0), Hugging Face `*.json`, the older Hugging Face
// files `vocab.json` (GPT-2 / RoBERTa BPE; needs `merges.txt` beside it) and `vocab.txt` (BERT
// WordPiece), both read with tokenizer_config.json beside them and run as the equivalent
// tokenizer.json (tokenize/hf_legacy_files.h), SentencePiece `*.model`, nanoGPT `meta.pkl` /
// `*.pkl`. FormatError for a malformed file, UsageError for a component or kind that is not
// supported, IoError when it cannot be read; all name the file.
std::unique_ptr<Tokenizer> loadTokenizer(const std::filesystem::path& file, std::int64_t vocabSize = 0);

} // namespace qs
