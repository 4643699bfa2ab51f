// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qs {

// The tokenizer of a llama2.c model (`tokenizer.bin`, `tok<N>.bin` from tokenizer.py export):
// int32 max_token_length, then per token in id order float32 score, int32 len and len raw bytes.
// The file does not store the vocabulary size; it comes from the model's header. Encoding and
// decoding follow run.c exactly.
class Llama2cTokenizer
{
public:
    static constexpr int kBos = 1;
    static constexpr int kEos = 2;
    static constexpr int kFirstByteToken = 3; // <0x00>; byte b falls back to id b + 3

    // Reads `vocabSize` tokens from the bytes of a tokenizer file. Bytes after the last token are
    // ignored, as run.c does. Throws FormatError naming `fileName` and the token id on a truncated
    // file, a negative max_token_length or length, or a token longer than max_token_length;
    // UsageError when vocabSize is not positive.
    static Llama2cTokenizer parse(
        const std::uint8_t* data, std::uint64_t size, int vocabSize, const std::string& fileName);
    // Reads and parses a file; IoError when it cannot be read.
    static Llama2cTokenizer read(const std::filesystem::path& file, int vocabSize);

    // The tokenizer next to a checkpoint: `tokenizer.bin` in its folder, else the only `tok*.bin`
    // file, else (several of them) `tok<vocabSize>.bin`. Nothing when none fits.
    static std::optional<std::filesystem::path> findNextTo(
        const std::filesystem::path& checkpointFile, int vocabSize = 0);

    int size() const { return static_cast<int>(m_pieces.size()); }
    int maxTokenLength() const { return m_maxTokenLength; }
    // The raw bytes of a token (BOS is "\n<s>\n", byte tokens "<0x41>"); UsageError when out of range.
    const std::string& piece(int id) const;
    float score(int id) const;
    // The id of a piece, or nothing. With duplicate pieces, the lowest id.
    std::optional<int> find(std::string_view piece) const;
    // run.c's encode: optional BOS, the dummy prefix " " when the text is not empty, one token per
    // UTF-8 codepoint (up to 4 bytes; byte fallback when unknown), then repeatedly the merge of the
    // adjacent pair with the highest score (leftmost on ties), then optional EOS.
    std::vector<int> encode(std::string_view text, bool bos, bool eos) const;
    // The inverse for text encoded with BOS: BOS and EOS are dropped, byte tokens become their
    // byte, and the piece right after BOS loses its leading space (the dummy prefix), like run.c.
    std::string decode(const std::vector<int>& ids) const;

private:
    Llama2cTokenizer() = default;
    void checkId(int id) const;

    std::string m_fileName;
    int m_maxTokenLength = 0;
    std::vector<std::string> m_pieces;
    std::vector<float> m_scores;
    std::unordered_map<std::string, int> m_ids;
};

} // namespace qs
