// SPDX-License-Identifier: GPL-3.0-or-later
// llama2.c checkpoints and tokenizers: the real stories260K files (offsets, shapes, token counts
// from ../shared/models/stories260K/SOURCE.md), synthesized legacy and version 1 files that must
// agree, and malformed inputs rejected with a message that says what is wrong.
#include "error.h"
#include "io/llama2c_checkpoint.h"
#include "tokenize/llama2c_tokenizer.h"

#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

using namespace qs;
namespace fs = std::filesystem;

namespace {

std::string readBytes(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeBytes(const fs::path& file, const std::string& bytes)
{
    std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

const std::uint8_t* u8(const std::string& s)
{
    return reinterpret_cast<const std::uint8_t*>(s.data());
}

// Appends the little-endian bytes of an int32 or a float (the test machine is little-endian).
template <typename T> void put(std::string& out, T value)
{
    char bytes[4];
    std::memcpy(bytes, &value, 4);
    out.append(bytes, 4);
}

float floatAt(const std::string& bytes, std::uint64_t offset)
{
    float v;
    std::memcpy(&v, bytes.data() + offset, 4);
    return v;
}

std::string legacyHeader(std::vector<std::int32_t> fields)
{
    std::string out;
    for (auto v : fields)
        put(out, v);
    return out;
}

std::string v1Header(std::vector<std::int32_t> fields, int version = 1, std::uint8_t shared = 1)
{
    std::string out;
    put(out, std::int32_t(0x616b3432));
    put(out, std::int32_t(version));
    out += legacyHeader(fields) + static_cast<char>(shared);
    out.resize(256, '\0');
    return out;
}

// A small random model: dim 8, hidden 12, 2 layers, 2 heads, 1 kv head, vocab 16, seq 4.
struct SmallModel
{
    std::map<std::string, std::vector<float>> values; // by HF name, made on first use
    std::uint32_t seed = 12345;

    static std::size_t numel(const std::string& name)
    {
        const auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
        return has("norm")                   ? 8
            : has("embed") || has("lm_head") ? 16 * 8
            : has("k_proj") || has("v_proj") ? 4 * 8
            : has("self_attn")               ? 8 * 8
            : has("mlp")                     ? 12 * 8
                                             : 2 * 4 * 2; // the legacy RoPE tables
    }
    std::string write(bool legacy, bool shared)
    {
        std::vector<std::string> names;
        const auto layers = [&](std::initializer_list<const char*> suffixes) {
            for (const char* suffix : suffixes)
                for (const char* layer : { "0.", "1." })
                    names.push_back(std::string("model.layers.") + layer + suffix);
        };
        const auto matrices = [&] {
            layers({ "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                "self_attn.o_proj.weight" });
        };
        if (legacy) { // emb, attn norms, wq, wk, wv, wo, ffn norms, w1, w2, w3, norm, RoPE tables, [wcls]
            names.push_back("model.embed_tokens.weight");
            layers({ "input_layernorm.weight" });
            matrices();
            layers({ "post_attention_layernorm.weight" });
        } else { // attn norms, ffn norms, norm, emb, wq, wk, wv, wo, w1, w2, w3, [wcls]
            layers({ "input_layernorm.weight", "post_attention_layernorm.weight" });
            names.insert(names.end(), { "model.norm.weight", "model.embed_tokens.weight" });
            matrices();
        }
        layers({ "mlp.gate_proj.weight", "mlp.down_proj.weight", "mlp.up_proj.weight" });
        if (legacy)
            names.insert(names.end(), { "model.norm.weight", "rope" });
        if (!shared)
            names.push_back("lm_head.weight");

        std::string out = legacy ? legacyHeader({ 8, 12, 2, 2, 1, shared ? 16 : -16, 4 })
                                 : v1Header({ 8, 12, 2, 2, 1, 16, 4 }, 1, shared ? 1 : 0);
        for (const auto& name : names) {
            auto& v = values[name];
            for (std::size_t i = v.size(); i < numel(name); ++i)
                v.push_back(float((seed = seed * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f);
            for (float f : v)
                put(out, f);
        }
        return out;
    }
};

// A tokenizer file: max_token_length, then score, length, bytes per token.
std::string tokenizerFile(std::int32_t maxLength, const std::vector<std::pair<std::string, std::int32_t>>& tokens)
{
    std::string out = legacyHeader({ maxLength });
    float score = 0;
    for (const auto& [piece, length] : tokens) {
        put(out, score--);
        put(out, length);
        out += piece;
    }
    return out;
}

// Data tables of malformed inputs: the bytes and a part of the expected message.
void malformedColumns()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expected");
}

void malformedRow(const char* name, const std::string& bytes, const char* expected)
{
    QTest::newRow(name) << QByteArray(bytes.data(), int(bytes.size())) << QString::fromUtf8(expected);
}

// Runs `parse` on the row's bytes; it must throw a FormatError that names bad.bin and the problem.
template <typename Parse> void expectFormatError(const QByteArray& bytes, const QString& expected, Parse parse)
{
    const std::string data = bytes.toStdString();
    try {
        parse(data);
        QFAIL("malformed input was accepted");
    } catch (const FormatError& e) {
        const std::string message = e.what();
        QVERIFY2(message.find(expected.toStdString()) != std::string::npos, message.c_str());
        QVERIFY2(message.rfind("bad.bin: ", 0) == 0, "the message must name the file");
    }
}

} // namespace

class TestLlama2c : public QObject
{
    Q_OBJECT

private:
    const fs::path m_stories = fs::path(QS_SHARED_MODELS_DIR) / "stories260K";
    QTemporaryDir m_dir;

    bool haveStories() const { return fs::is_regular_file(m_stories / "stories260K.bin"); }

private Q_SLOTS:
    void stories260KCheckpoint()
    {
        if (!haveStories()) { // QSKIP itself: "..." without arguments warns under -Wpedantic
            QTest::qSkip("../shared/models/stories260K is absent; the real-model checks need it", __FILE__, __LINE__);
            return;
        }
        const auto file = m_stories / "stories260K.bin";
        const std::string bytes = readBytes(file);
        QCOMPARE(bytes.size(), std::size_t(1056540));
        QVERIFY(looksLikeLlama2c(u8(bytes), bytes.size()));
        const auto layout = parseLlama2c(u8(bytes), bytes.size(), file.string());
        const auto& c = layout.config;
        QCOMPARE(c.version, 0);
        QCOMPARE(c.headerBytes, std::uint64_t(28));
        QCOMPARE((std::vector<int> { c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, c.seqLen }),
            (std::vector<int> { 64, 172, 5, 8, 4, 512, 512 }));
        QVERIFY(c.sharedClassifier);

        QCOMPARE(layout.tensors.size(), std::size_t(1 + 5 * 9 + 1));
        std::map<std::string, TensorInfo> byName;
        std::uint64_t total = 0, previous = 0;
        for (const auto& t : layout.tensors) {
            QCOMPARE(t.dtype, DType::F32);
            QCOMPARE(t.source, file.string());
            QCOMPARE(t.bytes, std::uint64_t(t.numel()) * 4);
            QVERIFY2(t.offset >= previous, "tensors must be in file order");
            previous = t.offset;
            total += t.bytes;
            byName[t.name] = t;
        }
        QCOMPARE(byName.size(), layout.tensors.size());
        QCOMPARE(total, std::uint64_t(260032) * 4);
        const auto check = [&](const std::string& name, std::vector<std::int64_t> shape, std::uint64_t offset) {
            QVERIFY2(byName.count(name), name.c_str());
            QCOMPARE(byName[name].shape, shape);
            QCOMPARE(byName[name].offset, offset);
        };
        check("model.embed_tokens.weight", { 512, 64 }, 28);
        check("model.layers.0.input_layernorm.weight", { 64 }, 131100);
        check("model.layers.1.input_layernorm.weight", { 64 }, 131100 + 256);
        check("model.layers.0.self_attn.q_proj.weight", { 64, 64 }, 132380);
        check("model.layers.0.self_attn.k_proj.weight", { 32, 64 }, 214300);
        check("model.layers.4.self_attn.v_proj.weight", { 32, 64 }, 255260 + 4 * 8192);
        check("model.layers.0.self_attn.o_proj.weight", { 64, 64 }, 296220);
        check("model.layers.0.post_attention_layernorm.weight", { 64 }, 378140);
        check("model.layers.0.mlp.gate_proj.weight", { 172, 64 }, 379420);
        check("model.layers.0.mlp.down_proj.weight", { 64, 172 }, 599580);
        check("model.layers.2.mlp.up_proj.weight", { 172, 64 }, 819740 + 2 * 44032);
        check("model.norm.weight", { 64 }, 1039900);
        QCOMPARE(layout.tensors.back().name, std::string("model.norm.weight"));
        QVERIFY(!byName.count("lm_head.weight"));
        QCOMPARE(floatAt(bytes, byName["model.embed_tokens.weight"].offset), floatAt(bytes, 28));
        QVERIFY(std::isfinite(floatAt(bytes, 28)) && floatAt(bytes, 28) != 0.0f);
        QVERIFY2(
            std::any_of(layout.notes.begin(), layout.notes.end(),
                [](const std::string& n) { return n.find("freq_cis_real") != n.npos && n.find("1040156") != n.npos; }),
            "the skipped RoPE tables must be mentioned with their offset");

        const auto hf = llama2cHfConfig(c);
        const nlohmann::json expected
            = { { "model_type", "llama" }, { "architectures", { "LlamaForCausalLM" } }, { "hidden_size", 64 },
                  { "intermediate_size", 172 }, { "num_hidden_layers", 5 }, { "num_attention_heads", 8 },
                  { "num_key_value_heads", 4 }, { "vocab_size", 512 }, { "max_position_embeddings", 512 },
                  { "rms_norm_eps", 1e-5 }, { "rope_theta", 10000.0 }, { "tie_word_embeddings", true },
                  { "torch_dtype", "float32" }, { "quantscope_rope_layout", "interleaved" } };
        for (const auto& item : expected.items())
            QVERIFY2(hf.contains(item.key()) && hf.at(item.key()) == item.value(), item.key().c_str());
    }

    void legacyAndVersion1Agree()
    {
        for (const bool shared : { true, false }) {
            SmallModel model;
            const std::string legacy = model.write(true, shared), v1 = model.write(false, shared);
            QVERIFY(looksLikeLlama2c(u8(legacy), legacy.size()));
            QVERIFY(looksLikeLlama2c(u8(v1), v1.size()));
            QVERIFY(!looksLikeLlama2c(u8(legacy), legacy.size() - 4));
            const auto a = parseLlama2c(u8(legacy), legacy.size(), "legacy.bin");
            const auto b = parseLlama2c(u8(v1), v1.size(), "v1.bin");
            QCOMPARE(a.config.version, 0);
            QCOMPARE(b.config.version, 1);
            QCOMPARE(b.config.headerBytes, std::uint64_t(256));
            QCOMPARE(a.config.sharedClassifier, shared);
            QCOMPARE(b.config.sharedClassifier, shared);
            QCOMPARE(a.config.vocabSize, 16);
            QCOMPARE(a.config.nKvHeads, 1);
            QVERIFY(llama2cHfConfig(a.config) == llama2cHfConfig(b.config));
            QCOMPARE(a.tensors.size(), std::size_t(2 + 2 * 9 + (shared ? 0 : 1)));
            QCOMPARE(b.tensors.size(), a.tensors.size());
            QCOMPARE(b.tensors.front().name, std::string("model.layers.0.input_layernorm.weight"));
            QCOMPARE(b.tensors.front().offset, std::uint64_t(256));
            QCOMPARE(a.tensors.back().name, std::string(shared ? "model.norm.weight" : "lm_head.weight"));
            for (const auto& t : a.tensors) {
                const auto it = std::find_if(
                    b.tensors.begin(), b.tensors.end(), [&](const TensorInfo& u) { return u.name == t.name; });
                QVERIFY2(it != b.tensors.end(), t.name.c_str());
                QCOMPARE(it->shape, t.shape);
                const auto& expected = model.values.at(t.name);
                QCOMPARE(t.bytes, expected.size() * 4);
                for (std::size_t i = 0; i < expected.size(); ++i) {
                    QCOMPARE(floatAt(legacy, t.offset + 4 * i), expected[i]);
                    QCOMPARE(floatAt(v1, it->offset + 4 * i), expected[i]);
                }
            }
        }
    }

    void malformedCheckpoints_data()
    {
        malformedColumns();
        const auto row = malformedRow;
        const std::string good = SmallModel().write(true, true);
        row("empty", "", "0 bytes is shorter than the 28-byte");
        row("truncated header", good.substr(0, 20), "20 bytes is shorter than the 28-byte");
        row("truncated v1 header", v1Header({ 8, 12, 2, 2, 1, 16, 4 }).substr(0, 100), "shorter than the 256-byte");
        row("one byte short", good.substr(0, good.size() - 1), "implies 4604 bytes but the file has 4603 (1 missing)");
        row("one byte extra", good + "x", "implies 4604 bytes but the file has 4605 (1 extra)");
        row("zero heads", legacyHeader({ 8, 12, 2, 0, 1, 16, 4 }), "n_heads is 0; it must be positive");
        row("negative dim", legacyHeader({ -8, 12, 2, 2, 1, 16, 4 }), "dim is -8; it must be positive");
        row("zero seq_len", v1Header({ 8, 12, 2, 2, 1, 16, 0 }), "seq_len is 0");
        row("dim not divisible", legacyHeader({ 10, 12, 2, 4, 1, 16, 4 }), "dim 10 is not divisible by n_heads 4");
        row("kv heads", legacyHeader({ 12, 12, 2, 3, 2, 16, 4 }), "n_heads 3 is not a multiple of n_kv_heads 2");
        row("odd head size", legacyHeader({ 6, 12, 2, 2, 1, 16, 4 }), "head size 3");
        row("too many layers", legacyHeader({ 8, 12, 1 << 20, 2, 1, 16, 4 }), "not a plausible model");
        row("overflow", legacyHeader({ 1 << 30, 1 << 30, 65536, 2, 1, 1 << 30, 1 << 30 }), "more than 2^64 bytes");
        row("version 2", v1Header({ 8, 12, 2, 2, 1, 16, 4 }, 2), "version 2 (the int8 Q8_0 export) is not supported");
        row("version 7", v1Header({ 8, 12, 2, 2, 1, 16, 4 }, 7), "version 7 is not supported");
        row("shared flag", v1Header({ 8, 12, 2, 2, 1, 16, 4 }, 1, 9), "shared_classifier flag is 9");
    }

    void malformedCheckpoints()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        expectFormatError(bytes, expected, [](const std::string& d) { parseLlama2c(u8(d), d.size(), "bad.bin"); });
        const std::string data = bytes.toStdString();
        QCOMPARE(looksLikeLlama2c(u8(data), data.size()), data.size() >= 4 && data.compare(0, 4, "24ka") == 0);
    }

    void stories260KTokenizer()
    {
        if (!haveStories()) { // QSKIP itself: "..." without arguments warns under -Wpedantic
            QTest::qSkip(
                "../shared/models/stories260K is absent; the real-tokenizer checks need it", __FILE__, __LINE__);
            return;
        }
        QCOMPARE(Llama2cTokenizer::findNextTo(m_stories / "stories260K.bin", 512), m_stories / "tok512.bin");
        const auto tok = Llama2cTokenizer::read(m_stories / "tok512.bin", 512);
        QCOMPARE(tok.size(), 512);
        QCOMPARE(tok.maxTokenLength(), 7);
        QCOMPARE(tok.piece(0), std::string("<unk>"));
        QCOMPARE(tok.piece(1), std::string("\n<s>\n"));
        QCOMPARE(tok.piece(2), std::string("\n</s>\n"));
        QCOMPARE(tok.piece(3), std::string("<0x00>"));
        QCOMPARE(tok.piece(258), std::string("<0xFF>"));
        QVERIFY(tok.score(259) == 0.0f); // stored as -0.0
        QCOMPARE(tok.score(260), -1.0f);
        QCOMPARE(tok.score(511), -252.0f);
        QCOMPARE(tok.piece(376).size(), std::size_t(7)); // " little": as long as max_token_length
        QCOMPARE(tok.find(" "), std::optional<int>(410));
        QVERIFY_THROWS_EXCEPTION(UsageError, tok.piece(512));

        const std::string text = readBytes(m_stories / "tinystories_valid_sample10.txt");
        QCOMPARE(text.size(), std::size_t(6908));
        const auto ids = tok.encode(text, true, false);
        QCOMPARE(ids.size(), std::size_t(3361));
        QCOMPARE(ids.front(), 1);
        QCOMPARE(tok.decode(ids), text);
        const auto withEos = tok.encode(text, true, true);
        QCOMPARE(withEos.size(), std::size_t(3362));
        QCOMPARE(withEos.back(), 2);
        QCOMPARE(tok.decode(withEos), text);

        const auto begin = text.find("Once upon a time, in a big forest");
        const std::string last = "she wanted to climb it.\n";
        const auto end = text.find(last, begin);
        QVERIFY(begin != std::string::npos && end != std::string::npos);
        const std::string story = text.substr(begin, end + last.size() - begin);
        QCOMPARE(tok.encode(story, true, false).size(), std::size_t(133));

        QCOMPARE(tok.encode("", true, false), std::vector<int> { 1 });
        QCOMPARE(tok.encode("", false, true), std::vector<int> { 2 });
        // Byte fallback: é is a piece, the 4-byte emoji is not, a NUL byte and invalid UTF-8 round-trip.
        const std::string odd = std::string("caf\xc3\xa9 \xf0\x9f\x98\x80 x\0y \xff\x80\x80\x80\x80\x80!", 22);
        const auto oddIds = tok.encode(odd, true, false);
        QVERIFY(std::find(oddIds.begin(), oddIds.end(), 485) != oddIds.end());
        QVERIFY(std::find(oddIds.begin(), oddIds.end(), 0xf0 + 3) != oddIds.end());
        QVERIFY(std::find(oddIds.begin(), oddIds.end(), 0 + 3) != oddIds.end());
        QCOMPARE(tok.decode(oddIds), odd);
        QCOMPARE(tok.decode({ 1, 376 }), std::string("little"));
        QCOMPARE(tok.decode({ 376 }), std::string(" little"));
    }

    void mergesFollowRunC()
    {
        // ids: 0 unk, 1 BOS, 2 EOS, 3..258 bytes, then " " "a" "b" "ab" "ba" " a" with scores -259.. -264.
        std::vector<std::pair<std::string, std::int32_t>> tokens
            = { { "<unk>", 5 }, { "\n<s>\n", 5 }, { "\n</s>\n", 6 } };
        for (int b = 0; b < 256; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            tokens.push_back({ name, 6 });
        }
        for (const char* p : { " ", "a", "b", "ab", "ba", " a" })
            tokens.push_back({ p, std::int32_t(std::strlen(p)) });
        const std::string file = tokenizerFile(6, tokens);
        const auto tok = Llama2cTokenizer::parse(u8(file), file.size(), 265, "t.bin");
        // " a" (-264) loses to "ab" (-262); "ba" (-263) loses to the leftmost "ab".
        QCOMPARE(tok.encode("abab", true, true), (std::vector<int> { 1, 259, 262, 262, 2 }));
        QCOMPARE(tok.encode("bc", false, false), (std::vector<int> { 259, 261, 'c' + 3 }));
        QCOMPARE(tok.decode(tok.encode("abcab", true, false)), std::string("abcab"));
        // A trailing extra token is ignored, like run.c does.
        const auto fewer = Llama2cTokenizer::parse(u8(file), file.size(), 260, "t.bin");
        QCOMPARE(fewer.size(), 260);
    }

    void malformedTokenizers_data()
    {
        malformedColumns();
        const auto row = malformedRow;
        const std::string good = tokenizerFile(3, { { "a", 1 }, { "bc", 2 }, { "def", 3 } });
        row("empty", "", "ends before max_token_length");
        row("negative max length", tokenizerFile(-1, {}), "max_token_length is -1");
        row("missing token", good.substr(0, good.size() - 11), "token 2: the file ends before its score and length");
        row("truncated bytes", good.substr(0, good.size() - 1), "token 2: its 3 bytes run past the end");
        row("negative length", tokenizerFile(3, { { "a", 1 }, { "", -4 } }), "token 1: length -4 is negative");
        row("too long", tokenizerFile(2, { { "a", 1 }, { "bcd", 3 } }), "token 1: length 3 exceeds max_token_length 2");
    }

    void malformedTokenizers()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        expectFormatError(
            bytes, expected, [](const std::string& d) { Llama2cTokenizer::parse(u8(d), d.size(), 3, "bad.bin"); });
    }

    void tokenizerFilesNextToCheckpoint()
    {
        const fs::path dir = m_dir.path().toStdString();
        const std::string tokens = tokenizerFile(3, { { "a", 1 }, { "bc", 2 }, { "def", 3 } });
        QVERIFY_THROWS_EXCEPTION(FormatError, Llama2cTokenizer::parse(u8(tokens), tokens.size(), 0, "t.bin"));
        // fuzz finding: a vocabulary without BOS/EOS ids made encode() read out of bounds
        QVERIFY_THROWS_EXCEPTION(FormatError, Llama2cTokenizer::parse(u8(tokens), tokens.size(), 1, "t.bin"));
        QVERIFY_THROWS_EXCEPTION(IoError, Llama2cTokenizer::read(dir / "missing.bin", 3));
        QCOMPARE(Llama2cTokenizer::findNextTo(dir / "model.bin", 3), std::nullopt);
        writeBytes(dir / "tok3.bin", tokens);
        writeBytes(dir / "tok512.bin", tokens);
        QCOMPARE(Llama2cTokenizer::findNextTo(dir / "model.bin", 3), dir / "tok3.bin");
        QCOMPARE(Llama2cTokenizer::findNextTo(dir / "model.bin", 7), std::nullopt);
        QCOMPARE(Llama2cTokenizer::read(dir / "tok3.bin", 3).piece(2), std::string("def"));
        writeBytes(dir / "tokenizer.bin", tokens);
        QCOMPARE(Llama2cTokenizer::findNextTo(dir / "model.bin", 3), dir / "tokenizer.bin");
    }
};

QTEST_GUILESS_MAIN(TestLlama2c)
#include "tst_llama2c.moc"
