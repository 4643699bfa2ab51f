// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/sentencepiece_tokenizer.h"

#include "error.h"

#include <sentencepiece_processor.h>

#include <dlfcn.h>

#include <new>

namespace qs {
namespace {

// Debian's libsentencepiece carries its own static protobuf-lite 3.14 and exports it, while
// libtorch loads libprotobuf 3.21: in one symbol scope, sentencepiece's generated code binds to
// the newer library and fails its version check on the first Load(). So the library is opened
// here with RTLD_DEEPBIND (its references resolve inside itself first) and RTLD_LOCAL (it
// interposes nothing), and this file names none of its symbols at link time: the processor is
// built through dlsym and used through its virtual methods only.
//
// The constructor, ~Status and Status::ToString are called through plain function pointers with
// `this` as the first argument. That relies on the Itanium C++ ABI as x86-64 (SysV) and AArch64
// implement it: a member function takes `this` like a first parameter, and a non-trivial return
// value (std::string) goes through a hidden return-slot pointer passed the same way for member
// and free functions (x86-64: rdi before `this`; AArch64: x8). Other ABIs differ (e.g. 32-bit
// ARM/x86 or MSVC pass the slot and `this` in another order), so refuse to build there.
#if !(defined(__x86_64__) || defined(__aarch64__)) || !(defined(__GNUC__) || defined(__clang__))
#error "sentencepiece_tokenizer.cpp calls member functions through function pointers: only x86-64 and AArch64 (Itanium ABI) are supported"
#endif
using sentencepiece::util::Status;

struct Library
{
    void* handle = nullptr;
    void (*construct)(void*) = nullptr;
    void (*destroyStatus)(Status*) = nullptr;
    std::string (*statusText)(const Status*) = nullptr;
    std::string error;
};

const Library& library()
{
    static const Library lib = [] {
        Library l;
        l.handle = dlopen("libsentencepiece.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
        if (!l.handle) {
            const char* e = dlerror();
            l.error = std::string("cannot load libsentencepiece.so.0: ") + (e ? e : "unknown error");
            return l;
        }
        l.construct = reinterpret_cast<void (*)(void*)>(dlsym(l.handle, "_ZN13sentencepiece22SentencePieceProcessorC1Ev"));
        l.destroyStatus = reinterpret_cast<void (*)(Status*)>(dlsym(l.handle, "_ZN13sentencepiece4util6StatusD1Ev"));
        l.statusText = reinterpret_cast<std::string (*)(const Status*)>(
            dlsym(l.handle, "_ZNK13sentencepiece4util6Status8ToStringB5cxx11Ev"));
        if (!l.construct || !l.destroyStatus || !l.statusText)
            l.error = "libsentencepiece.so.0 lacks the SentencePieceProcessor or Status symbols";
        return l;
    }();
    return lib;
}

// A Status returned by the library, destroyed by the library (its destructor is not linked here).
class HeldStatus
{
public:
    template <class Call>
    explicit HeldStatus(const Call& call)
    {
        new (&m_u.status) Status(call());
    }
    ~HeldStatus() { library().destroyStatus(&m_u.status); }
    HeldStatus(const HeldStatus&) = delete;
    HeldStatus& operator=(const HeldStatus&) = delete;
    bool ok() const { return m_u.status.ok(); }
    std::string text() const { return library().statusText(&m_u.status); }

private:
    union U {
        U() { }
        ~U() { }
        Status status;
    } m_u;
};

std::unique_ptr<sentencepiece::SentencePieceProcessor> newProcessor(const std::string& file)
{
    const Library& lib = library();
    if (!lib.error.empty())
        throw UsageError("SentencePiece models need " + lib.error, ErrorContext { file, {}, {} });
    void* memory = ::operator new(sizeof(sentencepiece::SentencePieceProcessor));
    try {
        lib.construct(memory);
    } catch (...) {
        ::operator delete(memory); // nothing was constructed
        throw;
    }
    // deleted through its virtual destructor, which lives in the library
    return std::unique_ptr<sentencepiece::SentencePieceProcessor>(static_cast<sentencepiece::SentencePieceProcessor*>(memory));
}

} // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& file)
    : m_fileName(file.string())
{
    if (!std::filesystem::is_regular_file(file))
        throw IoError("cannot read the tokenizer", ErrorContext { m_fileName, {}, {} });
    m_processor = newProcessor(m_fileName);
    const HeldStatus status([&] { return m_processor->Load(m_fileName); });
    if (!status.ok())
        throw FormatError("not a SentencePiece model: " + status.text(), ErrorContext { m_fileName, {}, {} });
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::int64_t SentencePieceTokenizer::vocabSize() const
{
    return m_processor->GetPieceSize();
}

std::vector<std::int64_t> SentencePieceTokenizer::encode(std::string_view text, bool addSpecial) const
{
    checkEncodeSize(text, m_fileName);
    std::vector<int> ids;
    const HeldStatus status([&] { return m_processor->Encode(absl::string_view(text.data(), text.size()), &ids); });
    if (!status.ok())
        throw FormatError("SentencePiece cannot encode the text: " + status.text(), ErrorContext { m_fileName, {}, {} });
    std::vector<std::int64_t> out;
    out.reserve(ids.size() + 1);
    if (addSpecial && m_processor->bos_id() >= 0)
        out.push_back(m_processor->bos_id());
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
}

std::string SentencePieceTokenizer::decode(const std::vector<std::int64_t>& ids) const
{
    std::vector<int> narrow;
    narrow.reserve(ids.size());
    for (const std::int64_t id : ids) {
        if (id < 0 || id >= vocabSize())
            throw UsageError("token id " + std::to_string(id) + " is outside the vocabulary of "
                    + std::to_string(vocabSize()) + " pieces",
                ErrorContext { m_fileName, {}, {} });
        narrow.push_back(static_cast<int>(id)); // control pieces (BOS, EOS) decode to nothing
    }
    std::string text;
    const HeldStatus status([&] { return m_processor->Decode(narrow, &text); });
    if (!status.ok())
        throw FormatError("SentencePiece cannot decode: " + status.text(), ErrorContext { m_fileName, {}, {} });
    return text;
}

std::optional<std::int64_t> SentencePieceTokenizer::tokenId(std::string_view token) const
{
    const int id = m_processor->PieceToId(absl::string_view(token.data(), token.size()));
    if (id < 0 || id >= m_processor->GetPieceSize() || m_processor->IdToPiece(id) != token)
        return std::nullopt;
    return id;
}

std::optional<std::int64_t> SentencePieceTokenizer::bosToken() const
{
    const int id = m_processor->bos_id();
    return id >= 0 ? std::optional<std::int64_t>(id) : std::nullopt;
}

std::optional<std::int64_t> SentencePieceTokenizer::eosToken() const
{
    const int id = m_processor->eos_id();
    return id >= 0 ? std::optional<std::int64_t>(id) : std::nullopt;
}

} // namespace qs
