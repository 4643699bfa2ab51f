// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/llama2c_tokenizer.h"

#include "error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace qs {
namespace {

std::int32_t readI32(const std::uint8_t* p)
{
    return static_cast<std::int32_t>(
        std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24);
}

float readF32(const std::uint8_t* p)
{
    const auto bits = static_cast<std::uint32_t>(readI32(p));
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

bool isContinuation(char c)
{
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

int hexDigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// The byte of a byte-fallback piece "<0xAB>", or -1.
int bytePiece(std::string_view piece)
{
    if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>')
        return -1;
    const int hi = hexDigit(piece[3]), lo = hexDigit(piece[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

} // namespace

Llama2cTokenizer Llama2cTokenizer::parse(
    const std::uint8_t* data, std::uint64_t size, int vocabSize, const std::string& fileName)
{
    // <unk>, BOS and EOS have fixed ids 0, 1 and 2; encode() relies on them existing.
    if (vocabSize < 3)
        throw FormatError(
            "a llama2.c vocabulary needs at least 3 tokens (<unk>, BOS, EOS), got " + std::to_string(vocabSize),
            ErrorContext { fileName, {}, {} });
    const auto fail = [&](const std::string& reason, std::uint64_t offset) {
        return FormatError(reason, ErrorContext { fileName, {}, offset });
    };
    if (size < 4)
        throw fail("file of " + std::to_string(size) + " bytes ends before max_token_length", 0);

    Llama2cTokenizer t;
    t.m_fileName = fileName;
    t.m_maxTokenLength = readI32(data);
    if (t.m_maxTokenLength <= 0)
        throw fail("max_token_length is " + std::to_string(t.m_maxTokenLength) + "; it must be positive", 0);
    const auto count = static_cast<std::size_t>(vocabSize);
    t.m_pieces.reserve(std::min<std::uint64_t>(count, size / 8));
    t.m_scores.reserve(std::min<std::uint64_t>(count, size / 8));
    std::uint64_t offset = 4;
    for (int id = 0; id < vocabSize; ++id) {
        const std::string token = "token " + std::to_string(id) + ": ";
        if (size - offset < 8)
            throw fail(token + "the file ends before its score and length (" + std::to_string(size) + " bytes for "
                    + std::to_string(vocabSize) + " tokens)",
                offset);
        const float score = readF32(data + offset);
        const std::int32_t length = readI32(data + offset + 4);
        if (length < 0)
            throw fail(token + "length " + std::to_string(length) + " is negative", offset + 4);
        if (length > t.m_maxTokenLength)
            throw fail(token + "length " + std::to_string(length) + " exceeds max_token_length "
                    + std::to_string(t.m_maxTokenLength),
                offset + 4);
        offset += 8;
        if (size - offset < static_cast<std::uint64_t>(length))
            throw fail(token + "its " + std::to_string(length) + " bytes run past the end of the file ("
                    + std::to_string(size) + " bytes)",
                offset);
        t.m_pieces.emplace_back(reinterpret_cast<const char*>(data + offset), static_cast<std::size_t>(length));
        t.m_scores.push_back(score);
        t.m_ids.emplace(t.m_pieces.back(), id); // keeps the lowest id of duplicates
        offset += static_cast<std::uint64_t>(length);
    }
    return t;
}

Llama2cTokenizer Llama2cTokenizer::read(const std::filesystem::path& file, int vocabSize)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw IoError::fromErrno("opening the tokenizer", file.string(), errno);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad())
        throw IoError::fromErrno("reading the tokenizer", file.string(), errno);
    return parse(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), vocabSize, file.string());
}

std::optional<std::filesystem::path> Llama2cTokenizer::findNextTo(
    const std::filesystem::path& checkpointFile, int vocabSize)
{
    namespace fs = std::filesystem;
    const fs::path dir = checkpointFile.parent_path().empty() ? fs::path(".") : checkpointFile.parent_path();
    std::error_code ec;
    if (fs::is_regular_file(dir / "tokenizer.bin", ec))
        return dir / "tokenizer.bin";
    std::vector<fs::path> candidates;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() > 7 && name.compare(0, 3, "tok") == 0 && name.compare(name.size() - 4, 4, ".bin") == 0
            && it->is_regular_file(ec) && it->path().filename() != checkpointFile.filename())
            candidates.push_back(it->path());
    }
    if (candidates.size() == 1)
        return candidates.front();
    const std::string wanted = "tok" + std::to_string(vocabSize) + ".bin";
    for (const auto& candidate : candidates) {
        if (vocabSize > 0 && candidate.filename() == wanted)
            return candidate;
    }
    return std::nullopt;
}

void Llama2cTokenizer::checkId(int id) const
{
    if (id < 0 || id >= size())
        throw UsageError("token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(size()),
            ErrorContext { m_fileName, {}, {} });
}

const std::string& Llama2cTokenizer::piece(int id) const
{
    checkId(id);
    return m_pieces[static_cast<std::size_t>(id)];
}

float Llama2cTokenizer::score(int id) const
{
    checkId(id);
    return m_scores[static_cast<std::size_t>(id)];
}

std::optional<int> Llama2cTokenizer::find(std::string_view piece) const
{
    const auto it = m_ids.find(std::string(piece));
    return it == m_ids.end() ? std::nullopt : std::optional<int>(it->second);
}

std::vector<int> Llama2cTokenizer::encode(std::string_view text, bool bos, bool eos) const
{
    std::vector<int> tokens;
    tokens.reserve(text.size() + 3);
    if (bos)
        tokens.push_back(kBos);
    const auto push = [&](std::string_view unit) {
        if (const auto id = find(unit)) {
            tokens.push_back(*id);
            return;
        }
        for (const char c : unit) {
            const int id = static_cast<unsigned char>(c) + kFirstByteToken;
            if (id >= size())
                throw FormatError("the vocabulary of " + std::to_string(size()) + " tokens has no byte-fallback token "
                        + std::to_string(id) + " for byte " + std::to_string(static_cast<unsigned char>(c)),
                    ErrorContext { m_fileName, {}, {} });
            tokens.push_back(id);
        }
    };
    // The dummy prefix. run.c would emit -1 when " " is not a piece; the byte token is the sane choice.
    if (!text.empty())
        push(" ");
    // One unit per UTF-8 codepoint: a lead byte and its continuation bytes, at most 4 bytes.
    std::size_t start = 0, length = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!isContinuation(text[i]))
            length = 0;
        if (length++ == 0)
            start = i;
        if (i + 1 < text.size() && isContinuation(text[i + 1]) && length < 4)
            continue;
        push(text.substr(start, length));
        length = 0;
    }

    // run.c rescans every adjacent pair each round and merges the first one with the highest
    // score above -1e10. Only the two pairs next to a merge change, so cache the others.
    struct Merge
    {
        int id = -1;
        float score = 0;
    };
    const auto mergeOf = [&](std::size_t i) {
        const auto id = find(m_pieces[std::size_t(tokens[i])] + m_pieces[std::size_t(tokens[i + 1])]);
        return id ? Merge { *id, m_scores[std::size_t(*id)] } : Merge {};
    };
    std::vector<Merge> merges;
    for (std::size_t i = 0; i + 1 < tokens.size(); ++i)
        merges.push_back(mergeOf(i));
    for (;;) {
        float bestScore = -1e10f;
        std::size_t best = merges.size();
        for (std::size_t i = 0; i < merges.size(); ++i) {
            if (merges[i].id != -1 && merges[i].score > bestScore) {
                bestScore = merges[i].score;
                best = i;
            }
        }
        if (best == merges.size())
            break;
        tokens[best] = merges[best].id;
        tokens.erase(tokens.begin() + std::ptrdiff_t(best) + 1);
        merges.erase(merges.begin() + std::ptrdiff_t(best));
        if (best < merges.size())
            merges[best] = mergeOf(best);
        if (best > 0)
            merges[best - 1] = mergeOf(best - 1);
    }
    if (eos)
        tokens.push_back(kEos);
    return tokens;
}

std::string Llama2cTokenizer::decode(const std::vector<int>& ids) const
{
    std::string text;
    int previous = -1;
    for (const int id : ids) {
        checkId(id);
        const int before = previous;
        previous = id;
        if (id == kBos || id == kEos)
            continue;
        std::string_view piece = m_pieces[std::size_t(id)];
        // SentencePiece drops the dummy prefix: the leading space of the piece after BOS.
        if (before == kBos && !piece.empty() && piece.front() == ' ')
            piece.remove_prefix(1);
        const int byte = bytePiece(piece);
        if (byte >= 0)
            text += static_cast<char>(byte);
        else
            text += piece;
    }
    return text;
}

} // namespace qs
