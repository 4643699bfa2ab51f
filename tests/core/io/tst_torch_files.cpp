// SPDX-License-Identifier: GPL-3.0-or-later
// PyTorch files against the real other side: checkpoints written by Debian's torch at test
// time are read and compared byte for byte, and files we write are loaded by Python's
// torch.load(weights_only=True).
#include "error.h"
#include "io/checkpoint.h"
#include "io/torch_file_writer.h"
#include "test_support.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstring>

using namespace qs;
namespace fs = std::filesystem;

namespace {

// Runs /usr/bin/python3 with a script from tests/interop; returns its exit code and output.
std::pair<int, QString> runPython(const QString& script, const QStringList& args)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(QStringLiteral(QS_PYTHON), QStringList { QStringLiteral(QS_TESTS_DIR "/interop/") + script } + args);
    if (!p.waitForFinished(240000))
        return { -1, QStringLiteral("timed out") };
    return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAll()) };
}

} // namespace

class TestTorchFiles : public QObject
{
    Q_OBJECT

private:
    fs::path gen(const std::string& name) const { return fs::path(m_generated.path().toStdString()) / name; }
    fs::path out(const std::string& name) const { return fs::path(m_out.path().toStdString()) / name; }

    // Compares an opened checkpoint with the generator's manifest: names, dtypes, shapes,
    // shared storages, and the bytes of every tensor (through raw() and through load()).
    void compareWithExpected(const Checkpoint& c, const std::string& c_case)
    {
        const auto manifest = nlohmann::json::parse(test::readFile(gen(c_case + ".expected.json")));
        const std::string blob = test::readFile(gen(c_case + ".expected.bin"));
        QCOMPARE(c.tensors().size(), manifest["tensors"].size());
        for (const auto& e : manifest["tensors"]) {
            const std::string name = e["name"];
            const TensorInfo* t = c.find(name);
            QVERIFY2(t, name.c_str());
            QCOMPARE(std::string(dtypeName(t->dtype)), e["dtype"].get<std::string>());
            QCOMPARE(t->shape, e["shape"].get<std::vector<std::int64_t>>());
            const std::string expected = blob.substr(e["offset"].get<std::size_t>(), e["bytes"].get<std::size_t>());
            const auto raw = c.raw(name);
            QCOMPARE(raw.size, static_cast<std::uint64_t>(expected.size()));
            if (expected.empty())
                continue; // an empty tensor may have no data pointer at all
            QVERIFY2(std::memcmp(raw.data, expected.data(), expected.size()) == 0, name.c_str());
            const at::Tensor loaded = c.load(name).contiguous();
            QVERIFY2(std::memcmp(loaded.data_ptr(), expected.data(), expected.size()) == 0, name.c_str());
        }
        for (const auto& [name, target] : manifest["aliases"].items())
            QCOMPARE(c.info(name).aliasOf, target.get<std::string>());
    }

    QTemporaryDir m_generated;
    QTemporaryDir m_out;

private Q_SLOTS:
    void initTestCase()
    {
        const auto [code, output] = runPython("make_torch_checkpoints.py", { m_generated.path() });
        QVERIFY2(code == 0, qPrintable(output));
    }

    void readsPythonCheckpoints_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expected");
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("layout");
        QTest::newRow("OrderedDict fp32") << "state_fp32.pt"
                                          << "state_fp32"
                                          << "pytorch-zip"
                                          << "state_dict";
        QTest::newRow("OrderedDict fp16") << "state_fp16.pt"
                                          << "state_fp16"
                                          << "pytorch-zip"
                                          << "state_dict";
        QTest::newRow("OrderedDict bf16") << "state_bf16.pt"
                                          << "state_bf16"
                                          << "pytorch-zip"
                                          << "state_dict";
        QTest::newRow("legacy format") << "legacy.pt"
                                       << "legacy"
                                       << "pytorch-legacy"
                                       << "state_dict";
        QTest::newRow("nanoGPT ckpt.pt") << "nanogpt/ckpt.pt"
                                         << "nanogpt"
                                         << "pytorch-zip"
                                         << "nanogpt";
        QTest::newRow("nanoGPT folder") << "nanogpt"
                                        << "nanogpt"
                                        << "pytorch-zip"
                                        << "nanogpt";
        QTest::newRow("sharded .bin folder") << "sharded"
                                             << "sharded"
                                             << "pytorch-zip-sharded"
                                             << "state_dict";
        QTest::newRow("sharded .bin index") << "sharded/pytorch_model.bin.index.json"
                                            << "sharded"
                                            << "pytorch-zip-sharded"
                                            << "state_dict";
        QTest::newRow("views and dtypes") << "views.pt"
                                          << "views"
                                          << "pytorch-zip"
                                          << "state_dict";
        QTest::newRow("views, legacy") << "views_legacy.pt"
                                       << "views_legacy"
                                       << "pytorch-legacy"
                                       << "state_dict";
    }
    void readsPythonCheckpoints()
    {
        QFETCH(QString, file);
        QFETCH(QString, expected);
        QFETCH(QString, format);
        QFETCH(QString, layout);
        const Checkpoint c = Checkpoint::open(gen(file.toStdString()));
        QCOMPARE(QString::fromStdString(c.format()), format);
        QCOMPARE(QString::fromStdString(c.layout()), layout);
        compareWithExpected(c, expected.toStdString());
    }

    void stridedViewsKeepTheirStrides()
    {
        const Checkpoint c = Checkpoint::open(gen("views.pt"));
        QVERIFY(c.info("base").isContiguous());
        QCOMPARE(c.info("transposed").strides, (std::vector<std::int64_t> { 1, 10 }));
        QCOMPARE(c.info("broadcast").strides, (std::vector<std::int64_t> { 0, 1 }));
        QCOMPARE(c.info("rows_offset").offset, c.info("base").offset + 20 * 4);
        // Zero-copy: the view points into the mapped file.
        const at::Tensor base = c.load("base");
        const at::Tensor transposed = c.load("transposed");
        QCOMPARE(transposed.data_ptr(), base.data_ptr());
        QVERIFY(at::equal(transposed, base.t()));
    }

    void nanogptMetadataAndConfig()
    {
        const Checkpoint c = Checkpoint::open(gen("nanogpt/ckpt.pt"));
        QVERIFY(c.find("h.0.attn.weight"));
        QVERIFY(!c.find("_orig_mod.h.0.attn.weight"));
        for (const char* key : { "model_args", "iter_num", "best_val_loss", "config" })
            QVERIFY2(c.metadata().count(key), key);
        QCOMPARE(c.metadata().at("iter_num"), std::string("5"));
        QCOMPARE(c.metadata().at("best_val_loss"), std::string("2.5"));
        QVERIFY(!c.metadata().count("optimizer"));
        QCOMPARE(c.modelType(), std::string("nanogpt"));
        QCOMPARE(c.config().at("n_layer").get<int>(), 2);
        bool optimizerNoted = false, prefixNoted = false;
        for (const auto& n : c.notes()) {
            optimizerNoted = optimizerNoted || n.find("'optimizer'") != std::string::npos;
            prefixNoted = prefixNoted || n.find("_orig_mod.") != std::string::npos;
        }
        QVERIFY(optimizerNoted);
        QVERIFY(prefixNoted);
    }

    void picklededModuleIsRefusedByName()
    {
        try {
            Checkpoint::open(gen("module.pt"));
            QFAIL("a pickled nn.Module was accepted");
        } catch (const FormatError& e) {
            QVERIFY2(std::string(e.what()).find("not allowed") != std::string::npos, e.what());
            QVERIFY2(std::string(e.what()).find("torch.nn") != std::string::npos
                    || std::string(e.what()).find("__main__") != std::string::npos,
                e.what());
        }
    }

    // Our writer's output, checked by torch.load(weights_only=True) and read back by us.
    void pythonLoadsWhatWeWrite_data()
    {
        QTest::addColumn<bool>("ordered");
        QTest::newRow("OrderedDict") << true;
        QTest::newRow("dict") << false;
    }
    void pythonLoadsWhatWeWrite()
    {
        QFETCH(bool, ordered);
        std::vector<TorchTensorSpec> specs;
        std::vector<std::string> data;
        auto add = [&](const std::string& name, DType dtype, std::vector<std::int64_t> shape, std::string bytes) {
            specs.push_back({ name, dtype, std::move(shape), {} });
            data.push_back(std::move(bytes));
        };
        auto bytesOf = [](const auto& values) {
            return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(values[0]));
        };
        const auto normal = test::randomNormal(24 * 16, 7);
        add("model.embed_tokens.weight", DType::F32, { 24, 16 }, bytesOf(normal));
        std::vector<std::uint16_t> bf16;
        for (float v : normal)
            bf16.push_back(test::floatToBf16(v));
        add("model.layers.0.mlp.down_proj.weight", DType::BF16, { 16, 24 }, bytesOf(bf16));
        add("model.layers.0.mlp.down_proj.weight_fp16", DType::F16, { 4 },
            bytesOf(std::vector<std::uint16_t> { 0x3C00, 0xC000, 0x7BFF, 0x0001 }));
        add("q.weight", DType::I8, { 2, 3 }, bytesOf(std::vector<std::int8_t> { -127, -1, 0, 1, 5, 127 }));
        add("q.scale", DType::F64, { 2, 1 }, bytesOf(std::vector<double> { 0.5, 1e-300 }));
        add("ids", DType::I64, { 3 }, bytesOf(std::vector<std::int64_t> { -(1LL << 40), 0, 1LL << 40 }));
        add("i32", DType::I32, { 1 }, bytesOf(std::vector<std::int32_t> { -7 }));
        add("i16", DType::I16, { 2 }, bytesOf(std::vector<std::int16_t> { -300, 300 }));
        add("u8", DType::U8, { 2 }, bytesOf(std::vector<std::uint8_t> { 0, 255 }));
        add("flags", DType::BOOL, { 3 }, bytesOf(std::vector<std::uint8_t> { 1, 0, 1 }));
        add("scalar", DType::F32, {}, bytesOf(std::vector<float> { 3.5f }));
        add("empty", DType::F32, { 0, 5 }, std::string());
        specs.push_back({ "lm_head.weight", DType::F32, { 24, 16 }, "model.embed_tokens.weight" });
        data.push_back(data.front());

        const fs::path file = out(ordered ? "ours_ordered.pt" : "ours_dict.pt");
        {
            TorchFileWriter writer(file, specs, ordered);
            for (std::size_t i = 0; i < specs.size(); ++i) {
                if (specs[i].aliasOf.empty())
                    writer.write(specs[i].name, data[i].data(), data[i].size());
            }
            QVERIFY(!fs::exists(file)); // only the temporary file exists until finish()
            writer.finish();
        }
        nlohmann::json manifest { { "ordered", ordered }, { "tensors", nlohmann::json::array() },
            { "aliases", { { "lm_head.weight", "model.embed_tokens.weight" } } } };
        std::string blob;
        for (std::size_t i = 0; i < specs.size(); ++i) {
            manifest["tensors"].push_back(
                { { "name", specs[i].name }, { "dtype", std::string(dtypeName(specs[i].dtype)) },
                    { "shape", specs[i].shape }, { "offset", blob.size() }, { "bytes", data[i].size() } });
            blob += data[i];
        }
        test::writeFile(out("expected.json"), manifest.dump());
        test::writeFile(out("expected.bin"), blob);
        const auto [code, output] = runPython("check_torch_file.py",
            { QString::fromStdString(file.string()), QString::fromStdString(out("expected.json").string()),
                QString::fromStdString(out("expected.bin").string()) });
        QVERIFY2(code == 0, qPrintable(output));

        // And back: our reader sees the same bytes and the shared storage.
        const Checkpoint c = Checkpoint::open(file);
        QCOMPARE(c.format(), std::string("pytorch-zip"));
        QCOMPARE(c.tensors().size(), specs.size());
        for (std::size_t i = 0; i < specs.size(); ++i) {
            const auto raw = c.raw(specs[i].name);
            QCOMPARE(raw.size, static_cast<std::uint64_t>(data[i].size()));
            QVERIFY(data[i].empty() || std::memcmp(raw.data, data[i].data(), data[i].size()) == 0);
        }
        QCOMPARE(c.info("lm_head.weight").aliasOf, std::string("model.embed_tokens.weight"));
    }

    void unfinishedWriterLeavesNothing()
    {
        const fs::path file = out("unfinished.pt");
        {
            TorchFileWriter writer(file, { { "a", DType::F32, { 2 }, {} } });
            QVERIFY_THROWS_EXCEPTION(UsageError, writer.write("a", "12345678", 7));
        }
        QVERIFY(!fs::exists(file));
        for (const auto& entry : fs::directory_iterator(out("")))
            QVERIFY2(entry.path().filename().string().find("unfinished") == std::string::npos, entry.path().c_str());
        QVERIFY_THROWS_EXCEPTION(UsageError, TorchFileWriter(out("fp8.pt"), { { "a", DType::F8_E4M3, { 2 }, {} } }));
    }
};

QTEST_GUILESS_MAIN(TestTorchFiles)
#include "tst_torch_files.moc"
