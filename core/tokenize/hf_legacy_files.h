// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The "slow" tokenizer files that many Hugging Face checkpoints ship instead of tokenizer.json,
// turned into the tokenizer.json that transformers' converters (convert_slow_tokenizer.py) make
// from them, for HfTokenizer to run: one implementation of the algorithms, not two.
// Settings come from tokenizer_config.json (and config.json's model_type) in the same folder;
// added_tokens.json and tokenizer_config.json's added_tokens_decoder add tokens.
#include <nlohmann/json.hpp>

#include <filesystem>

namespace qs::hf {

// GPT-2 / RoBERTa byte-level BPE from `vocab.json` and the `merges.txt` beside it (a file named
// X-vocab.json pairs with X-merges.txt). GPT-2: ByteLevel pre-tokenizer, decoder and
// post-processor, <|endoftext|> special when present. RoBERTa (config.json model_type roberta,
// longformer or bart, or a Roberta/Bart/Longformer tokenizer_class): RobertaProcessing with
// <s> .. </s>, specials <s> <pad> </s> <unk> <mask> (mask with lstrip). FormatError naming
// merges.txt when it is missing, or the file that is malformed; IoError when one cannot be read.
nlohmann::json tokenizerJsonFromVocabJson(const std::filesystem::path& vocabJson);

// BERT WordPiece from `vocab.txt` (one token per line, id = line number): BertNormalizer
// (do_lower_case, strip_accents, tokenize_chinese_chars from tokenizer_config.json),
// BertPreTokenizer, BertProcessing [CLS] .. [SEP], WordPiece decoder, the specials [PAD] [UNK]
// [CLS] [SEP] [MASK] that the vocabulary has (names overridable by tokenizer_config.json).
nlohmann::json tokenizerJsonFromVocabTxt(const std::filesystem::path& vocabTxt);

} // namespace qs::hf
