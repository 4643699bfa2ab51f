// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the llama2.c checkpoint header parser and the llama2.c tokenizer.
//
// Input layout (the seeds in corpus/fuzz_llama2c/ follow it):
//   byte 0, bit 0 clear: the rest of the input is a checkpoint file for qs::parseLlama2c.
//   byte 0, bit 0 set:   bytes 1-2 are the vocabulary size (uint16, little-endian), the rest is a
//                        tokenizer file for Llama2cTokenizer::parse. The bytes after its last
//                        token (which parse ignores) are encoded with BOS when bit 1 is set and
//                        EOS when bit 2 is set, and the ids decoded again.
// qs::Error is the only acceptable failure; anything else (another exception, a crash, a
// sanitizer report, a leak, a timeout) is a finding.
#include "error.h"
#include "fuzz_check.h"
#include "io/llama2c_checkpoint.h"
#include "tokenize/llama2c_tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

void fuzzCheckpoint(const std::uint8_t* data, std::size_t size)
{
    const bool magic = size >= 4
        && (std::uint32_t(data[0]) | std::uint32_t(data[1]) << 8 | std::uint32_t(data[2]) << 16
               | std::uint32_t(data[3]) << 24)
            == qs::kLlama2cMagic;
    const bool looksLike = qs::looksLikeLlama2c(data, size);
    const bool plausible = qs::hasPlausibleLlama2cHeader(data, size);
    qs::Llama2cLayout layout;
    try {
        layout = qs::parseLlama2c(data, size, "fuzz.bin");
    } catch (const qs::Error& e) {
        QS_FUZZ_CHECK(e.what()[0] != '\0');
        // Detection must not promise what the parser then refuses.
        QS_FUZZ_CHECK(magic || !looksLike);
        return;
    }
    const qs::Llama2cConfig& c = layout.config;
    QS_FUZZ_CHECK(looksLike);
    QS_FUZZ_CHECK(magic || plausible);
    QS_FUZZ_CHECK(c.version == (magic ? 1 : 0));
    QS_FUZZ_CHECK(c.headerBytes == (magic ? qs::kLlama2cV1HeaderBytes : qs::kLlama2cLegacyHeaderBytes));
    QS_FUZZ_CHECK(c.dim > 0 && c.hiddenDim > 0 && c.nLayers > 0 && c.nHeads > 0 && c.nKvHeads > 0 && c.vocabSize > 0
        && c.seqLen > 0);
    const std::size_t expectedCount = 2 + 9 * static_cast<std::size_t>(c.nLayers) + (c.sharedClassifier ? 0 : 1);
    QS_FUZZ_CHECK(layout.tensors.size() == expectedCount);

    std::uint64_t previousEnd = c.headerBytes;
    std::set<std::string> names;
    for (const auto& t : layout.tensors) {
        QS_FUZZ_CHECK(names.insert(t.name).second);
        QS_FUZZ_CHECK(t.dtype == qs::DType::F32 && t.source == "fuzz.bin" && t.isContiguous());
        std::uint64_t bytes = 4;
        for (const auto d : t.shape) {
            QS_FUZZ_CHECK(d > 0);
            QS_FUZZ_CHECK(!__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes));
        }
        QS_FUZZ_CHECK(bytes == t.bytes);
        QS_FUZZ_CHECK(t.offset >= previousEnd); // file order; legacy RoPE tables leave a gap
        QS_FUZZ_CHECK(t.offset <= size && t.bytes <= size - t.offset);
        previousEnd = t.offset + t.bytes;
    }
    QS_FUZZ_CHECK(!qs::llama2cHfConfig(c).dump().empty());
}

void fuzzTokenizer(const std::uint8_t* data, std::size_t size, bool bos, bool eos)
{
    if (size < 2)
        return;
    const int vocabSize = data[0] | data[1] << 8;
    data += 2;
    size -= 2;
    try {
        const auto tokenizer = qs::Llama2cTokenizer::parse(data, size, vocabSize, "tok.bin");
        QS_FUZZ_CHECK(tokenizer.size() == vocabSize && tokenizer.maxTokenLength() > 0);
        std::uint64_t end = 4;
        for (int id = 0; id < tokenizer.size(); ++id) {
            const std::string& piece = tokenizer.piece(id);
            QS_FUZZ_CHECK(piece.size() <= static_cast<std::size_t>(tokenizer.maxTokenLength()));
            const auto found = tokenizer.find(piece);
            QS_FUZZ_CHECK(found && *found <= id && tokenizer.piece(*found) == piece);
            end += 8 + piece.size();
        }
        QS_FUZZ_CHECK(end <= size);

        const std::string_view text(reinterpret_cast<const char*>(data) + end, size - end);
        const std::vector<int> ids = tokenizer.encode(text, bos, eos);
        // BOS and EOS are fixed ids (1 and 2) that encode emits even when a tiny vocabulary lacks
        // them; every other id must be inside the vocabulary. BOS is not necessarily first: like
        // run.c, encode may merge it with the next piece when the vocabulary has their concatenation.
        for (const int id : ids)
            QS_FUZZ_CHECK((id >= 0 && id < tokenizer.size()) || id == qs::Llama2cTokenizer::kBos
                || id == qs::Llama2cTokenizer::kEos);
        if (eos)
            QS_FUZZ_CHECK(!ids.empty() && ids.back() == qs::Llama2cTokenizer::kEos);
        if (text.empty())
            QS_FUZZ_CHECK(ids.size() == std::size_t(bos) + std::size_t(eos));
        (void)tokenizer.decode(ids);
        (void)tokenizer.score(tokenizer.size() - 1);
        (void)tokenizer.piece(tokenizer.size()); // out of range: UsageError
        QS_FUZZ_CHECK(false && "piece() accepted an id outside the vocabulary");
    } catch (const qs::Error& e) {
        QS_FUZZ_CHECK(e.what()[0] != '\0');
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::uint8_t mode = data[0];
    if (mode & 1)
        fuzzTokenizer(data + 1, size - 1, mode & 2, mode & 4);
    else
        fuzzCheckpoint(data + 1, size - 1);
    return 0;
}
