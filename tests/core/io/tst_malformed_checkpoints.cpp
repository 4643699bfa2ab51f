// SPDX-License-Identifier: GPL-3.0-or-later
// A corpus of malformed PyTorch, llama2.c and index inputs (the safetensors header corpus is in
// tst_safetensors): each must give a FormatError or IoError that names the file and says what is
// wrong; none may crash or hang.
#include "error.h"
#include "io/checkpoint.h"
#include "io/pickle/pickle_writer.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QTest>

#include <caffe2/serialize/inline_container.h>

using namespace qs;
namespace fs = std::filesystem;

namespace {

struct Record
{
    std::string name;
    std::string data;
    bool compress = false;
};

// A zip container as torch.save writes it, with arbitrary records.
std::string zipWith(const std::vector<Record>& records)
{
    std::string out;
    {
        caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, size_t size) {
            out.append(static_cast<const char*>(data), size);
            return size;
        });
        for (const auto& r : records)
            writer.writeRecord(r.name, r.data.data(), r.data.size(), r.compress);
        writer.writeEndOfFile();
    }
    return out;
}

std::string pkl(const std::vector<PickledTensorSpec>& tensors)
{
    return pickleStateDict(tensors, true);
}

const PickledTensorSpec kW { "w", DType::F32, { 2, 2 }, "0", 4, 0, {} };

} // namespace

class TestMalformedCheckpoints : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    fs::path path(const std::string& name) const { return fs::path(m_dir.path().toStdString()) / name; }

private Q_SLOTS:
    void corpus_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        auto row = [](const char* name, const char* file, const std::string& bytes, const char* expected) {
            QTest::newRow(name) << QString::fromUtf8(file) << QByteArray(bytes.data(), static_cast<int>(bytes.size()))
                                << QString::fromUtf8(expected);
        };
        const std::string data16(16, '\x01');
        const std::string good = zipWith({ { "data.pkl", pkl({ kW }) }, { "data/0", data16 } });

        row("zip without data.pkl", "a.pt", zipWith({ { "model.json", "{}" } }), "has no data.pkl");
        row("truncated zip", "b.pt", good.substr(0, good.size() / 2), "not a readable PyTorch zip archive");
        row("zip cut inside the directory", "b2.pt", good.substr(0, good.size() - 30),
            "not a readable PyTorch zip archive");
        row("missing storage record", "c.pt", zipWith({ { "data.pkl", pkl({ kW }) } }),
            "storage record data/0 is missing");
        row("short storage record", "d.pt", zipWith({ { "data.pkl", pkl({ kW }) }, { "data/0", std::string(8, 'x') } }),
            "does not hold the 16 bytes");
        row("compressed storage record", "e.pt",
            zipWith({ { "data.pkl", pkl({ kW }) }, { "data/0", std::string(4096, '\0'), true } }), "is compressed");
        row("pickle calling os.system", "f.pt",
            zipWith({ { "data.pkl",
                std::string("\x80\x02"
                            "cos\nsystem\n.",
                    15) } }),
            "'os.system'");
        row("pickle calling builtins.eval", "g.pt",
            zipWith({ { "data.pkl",
                std::string("\x80\x02"
                            "cbuiltins\neval\n.",
                    17) } }),
            "'builtins.eval'");
        const std::string p = pkl({ kW });
        row("truncated pickle", "h.pt", zipWith({ { "data.pkl", p.substr(0, p.size() - 10) }, { "data/0", data16 } }),
            "(data.pkl): at byte");
        row("big-endian byteorder", "i.pt",
            zipWith({ { "data.pkl", pkl({ kW }) }, { "byteorder", "big" }, { "data/0", data16 } }), "'big'-endian");
        row("tensor outside its storage", "j.pt",
            zipWith({ { "data.pkl", pkl({ { "w", DType::F32, { 4, 4 }, "0", 4, 0, {} } }) }, { "data/0", data16 } }),
            "reaches element 15 of a storage of 4 elements");
        row("strided view past its storage", "j2.pt",
            zipWith(
                { { "data.pkl", pkl({ { "w", DType::F32, { 2, 2 }, "0", 4, 1, { 2, 1 } } }) }, { "data/0", data16 } }),
            "reaches element 4");
        row("no tensors", "k.pt", zipWith({ { "data.pkl", std::string("\x80\x02}.", 4) } }), "with no tensors");
        row("a list, not a dict", "l.pt", zipWith({ { "data.pkl", std::string("\x80\x02].", 4) } }),
            "instead of a dict of tensors");
        row("legacy: wrong magic", "m.pt",
            std::string("\x80\x02\x8a\x0a"
                        "0123456789.",
                15),
            "wrong magic number");
        row("legacy: truncated after the magic", "n.pt",
            std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M", 18), "truncated");
        row("unknown content with a .bin name", "o.bin", "hello, this is not a checkpoint at all",
            "neither safetensors, a PyTorch file");
        row("llama2.c: size does not match its header", "p.bin",
            std::string("\x08\x00\x00\x00\x0c\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x10\x00\x00"
                        "\x00\x04\x00\x00\x00",
                28)
                + std::string(100, '\0'),
            "but the file has 128");
        row("llama2.c v1: version 2 (int8 export)", "q.bin",
            std::string("\x32\x34\x6b\x61\x02\x00\x00\x00", 8) + std::string(248, '\0'), "version 2");
        row("index naming a path outside the folder", "model.safetensors.index.json",
            R"({"weight_map": {"w": "../elsewhere.safetensors"}})", "not a file name in the same folder");
        row("index without weight_map", "pytorch_model.bin.index.json", R"({"metadata": {}})", "no 'weight_map'");
        row("index that is not JSON", "x.index.json", "{weight_map:", "not valid JSON");
    }
    void corpus()
    {
        QFETCH(QString, file);
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        const fs::path dir = path(QTest::currentDataTag());
        fs::create_directories(dir);
        const fs::path target = dir / file.toStdString();
        test::writeFile(target, bytes.toStdString());
        try {
            Checkpoint::open(target);
            QFAIL("a malformed file was accepted");
        } catch (const Error& e) {
            const std::string message = e.what();
            QVERIFY2(message.find(expected.toStdString()) != std::string::npos, message.c_str());
            QVERIFY2(message.find(dir.string()) != std::string::npos, ("must name the file: " + message).c_str());
        }
    }

    void folderWithSeveralCheckpointsAsksWhichOne()
    {
        const fs::path dir = path("several");
        fs::create_directories(dir);
        test::writeFile(dir / "a.pt", "x");
        test::writeFile(dir / "b.pt", "y");
        test::writeFile(dir / "tok512.bin", "tokenizer files are not candidates");
        try {
            Checkpoint::open(dir);
            QFAIL("accepted");
        } catch (const FormatError& e) {
            QVERIFY2(
                std::string(e.what()).find("several checkpoint files (a.pt, b.pt)") != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestMalformedCheckpoints)
#include "tst_malformed_checkpoints.moc"
