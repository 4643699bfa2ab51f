// SPDX-License-Identifier: GPL-3.0-or-later
// safetensors: writer -> reader round trips, sharding, and malformed headers rejected with
// a message that says what is wrong.
#include "error.h"
#include "io/checkpoint.h"
#include "io/safetensors_file.h"
#include "io/safetensors_writer.h"
#include "io/sharded_safetensors_writer.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

using namespace qs;
namespace fs = std::filesystem;

class TestSafetensors : public QObject
{
    Q_OBJECT

private:
    fs::path path(const char* name) const { return fs::path(m_dir.path().toStdString()) / name; }
    QTemporaryDir m_dir;

private Q_SLOTS:
    void roundTripEveryDType()
    {
        // Every dtype with a recognisable byte pattern, plus a scalar and an empty tensor.
        std::vector<test::RawTensor> tensors;
        const DType all[] = { DType::F64, DType::F32, DType::F16, DType::BF16, DType::F8_E4M3, DType::F8_E5M2,
            DType::I64, DType::I32, DType::I16, DType::I8, DType::U8, DType::BOOL };
        int k = 0;
        for (DType d : all) {
            test::RawTensor t { { "t." + std::string(dtypeName(d)), d, { 3, 5 } }, {} };
            t.bytes.resize(t.spec.bytes());
            for (auto& b : t.bytes)
                b = static_cast<std::uint8_t>(d == DType::BOOL ? (k++ & 1) : (k++ * 37 + 11));
            tensors.push_back(t);
        }
        tensors.push_back(test::f32Tensor("scalar", {}, { 2.5f }));
        tensors.push_back({ { "empty", DType::F32, { 0, 4 } }, {} });
        const auto file = path("all.safetensors");
        test::writeSafetensors(file, tensors);

        const auto st = SafetensorsFile::open(file);
        QCOMPARE(st->tensors().size(), tensors.size());
        QCOMPARE(st->header().metadata.at("format"), std::string("pt"));
        QCOMPARE(st->header().dataStart() % 8, 0u); // header padded for alignment
        for (const auto& expected : tensors) {
            const auto it = std::find_if(st->tensors().begin(), st->tensors().end(),
                [&](const TensorInfo& t) { return t.name == expected.spec.name; });
            QVERIFY2(it != st->tensors().end(), expected.spec.name.c_str());
            QCOMPARE(it->dtype, expected.spec.dtype);
            QCOMPARE(it->shape, expected.spec.shape);
            QCOMPARE(it->bytes, expected.bytes.size());
            const auto* data = st->mapping()->data() + it->offset;
            QVERIFY(std::equal(expected.bytes.begin(), expected.bytes.end(), data));
        }
    }

    void loadGivesValues()
    {
        const std::vector<float> values = { 1.0f, -2.5f, 0.15625f, 3.0e-3f, -7.0f, 65504.0f };
        const auto file = path("values.safetensors");
        test::writeSafetensors(
            file, { test::f32Tensor("w.f32", { 2, 3 }, values), test::bf16Tensor("w.bf16", { 2, 3 }, values) });
        const Checkpoint c = Checkpoint::open(file);
        QCOMPARE(c.format(), std::string("safetensors"));
        const at::Tensor f = c.load("w.f32");
        QCOMPARE(f.scalar_type(), at::kFloat);
        QCOMPARE(f.sizes().vec(), (std::vector<std::int64_t> { 2, 3 }));
        for (int i = 0; i < 6; ++i)
            QCOMPARE(f.view(-1)[i].item<float>(), values[static_cast<std::size_t>(i)]);
        const at::Tensor b = c.load("w.bf16");
        QCOMPARE(b.scalar_type(), at::kBFloat16);
        QVERIFY(at::equal(b.to(at::kFloat), f.to(at::kBFloat16).to(at::kFloat)));
        QVERIFY_THROWS_EXCEPTION(UsageError, c.load("missing"));
    }

    void writerEnforcesOrderAndSizes()
    {
        const auto file = path("order.safetensors");
        {
            SafetensorsWriter w(file, { { "a", DType::F32, { 2 } }, { "b", DType::F32, { 1 } } });
            const float two[2] = { 1, 2 };
            QVERIFY_THROWS_EXCEPTION(UsageError, w.write("b", two, 4));
            QVERIFY_THROWS_EXCEPTION(UsageError, w.write("a", two, 12));
            w.write("a", two, 4); // in pieces
            w.write("a", two + 1, 4);
            QVERIFY_THROWS_EXCEPTION(UsageError, w.finish());
        }
        QVERIFY2(!fs::exists(file), "an unfinished writer must remove its file");
        QVERIFY_THROWS_EXCEPTION(
            UsageError, SafetensorsWriter(file, { { "a", DType::F32, { 1 } }, { "a", DType::F32, { 1 } } }));
    }

    void shardedWriterAndIndex()
    {
        const auto dir = path("sharded");
        fs::create_directories(dir);
        std::vector<TensorSpec> specs;
        for (int i = 0; i < 5; ++i)
            specs.push_back({ "layer." + std::to_string(i) + ".weight", DType::F32, { 100 } }); // 400 bytes each
        specs.push_back({ "big", DType::F32, { 400 } }); // larger than a shard: alone
        ShardedSafetensorsWriter writer(dir, specs, /*maxShardBytes=*/1000);
        QCOMPARE(writer.shardCount(), 4u); // [0,1] [2,3] [4] [big]
        for (const auto& s : specs) {
            std::vector<float> v(static_cast<std::size_t>(s.shape[0]), static_cast<float>(s.name.size()));
            writer.write(s.name, v.data(), v.size() * 4);
        }
        writer.finish();
        QVERIFY(fs::exists(dir / "model-00001-of-00004.safetensors"));
        QVERIFY(fs::exists(dir / "model-00004-of-00004.safetensors"));
        const auto index = nlohmann::json::parse(test::readFile(dir / "model.safetensors.index.json"));
        QCOMPARE(index["metadata"]["total_size"].get<std::uint64_t>(), 3600u);
        QCOMPARE(index["weight_map"]["big"].get<std::string>(), std::string("model-00004-of-00004.safetensors"));
        QCOMPARE(
            index["weight_map"]["layer.2.weight"].get<std::string>(), std::string("model-00002-of-00004.safetensors"));

        const Checkpoint c = Checkpoint::open(dir);
        QCOMPARE(c.format(), std::string("safetensors-sharded"));
        QCOMPARE(c.tensors().size(), 6u);
        QCOMPARE(c.load("big").sum().item<float>(), 400.0f * 3);
        QCOMPARE(c.dataFiles().size(), 4u);
    }

    void singleShardHasNoIndex()
    {
        const auto dir = path("single");
        fs::create_directories(dir);
        ShardedSafetensorsWriter writer(dir, { { "x", DType::F32, { 4 } } });
        const float v[4] = { 1, 2, 3, 4 };
        writer.write("x", v, 16);
        writer.finish();
        QVERIFY(fs::exists(dir / "model.safetensors"));
        QVERIFY(!fs::exists(dir / "model.safetensors.index.json"));
    }

    void indexProblemsAreReported()
    {
        const auto dir = path("badindex");
        fs::create_directories(dir);
        test::writeSafetensors(dir / "a.safetensors", { test::f32Tensor("x", { 1 }, { 1.0f }) });
        test::writeFile(dir / "model.safetensors.index.json", R"({"weight_map": {"y": "a.safetensors"}})");
        QVERIFY_THROWS_EXCEPTION(FormatError, Checkpoint::open(dir));
        test::writeFile(dir / "model.safetensors.index.json", R"({"weight_map": {"x": "../a.safetensors"}})");
        try {
            Checkpoint::open(dir);
            QFAIL("a shard outside the folder must be refused");
        } catch (const FormatError& e) {
            QVERIFY2(std::string(e.what()).find("not a file name in the same folder") != std::string::npos, e.what());
        }
    }

    void malformedHeaders_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        const std::string f4(4, '\0');
        const std::string f8(8, '\0');
        auto row = [](const char* name, const std::string& bytes, const char* expected) {
            QTest::newRow(name) << QByteArray(bytes.data(), static_cast<int>(bytes.size()))
                                << QString::fromUtf8(expected);
        };
        row("too small", "abc", "too small to be safetensors");
        row("length over limit", test::rawSafetensors(200'000'000, "{}"), "exceeds the limit");
        row("length past end", test::rawSafetensors(1000, "{}"), "runs past the end of the file");
        row("bad json", test::rawSafetensors(R"({"a": )", ""), "not valid JSON");
        row("not an object", test::rawSafetensors("[1, 2]", ""), "not a JSON object");
        row("entry not an object", test::rawSafetensors(R"({"a": 3})", ""), "not an object with dtype");
        row("unknown dtype", test::rawSafetensors(R"({"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}})", f4),
            "unknown dtype 'F7'");
        row("missing dtype", test::rawSafetensors(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", f4), "'dtype'");
        row("negative dim", test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", f4),
            "non-negative integers");
        row("offsets not a pair", test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", f4),
            "'data_offsets' must be [begin, end]");
        row("reversed offsets", test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", f4),
            "end before they begin");
        row("size mismatch", test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", f4),
            "needs 8 bytes, but data_offsets span 4 bytes");
        row("overlap",
            test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                f8 + f4),
            "overlap tensor 'a'");
        row("gap",
            test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                f8 + f4),
            "leave a gap of 4 bytes after tensor 'a'");
        row("not at start", test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f8),
            "at the start of the data section");
        row("out of range", test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f4),
            "run past the end of the file");
        row("trailing data", test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f8),
            "trailing or truncated");
        row("duplicate name",
            test::rawSafetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                 R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                f8),
            "more than once");
        row("metadata not strings", test::rawSafetensors(R"({"__metadata__":{"format":1}})", ""),
            "__metadata__ value of 'format' is not a string");
        row("huge shape",
            test::rawSafetensors(
                R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", f4),
            "more elements than can be addressed");
        // fuzz finding: the error message must not recurse into a deeply nested shape
        const std::string deep = R"({"a":{"dtype":"F32","shape":)" + std::string(100000, '[') + std::string(100000, ']')
            + R"(,"data_offsets":[0,0]}})";
        row("deeply nested shape", test::rawSafetensors(deep, ""), "non-negative integers, got [[…]]");
    }

    void malformedHeaders()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        const auto file = path("bad.safetensors");
        test::writeFile(file, bytes.toStdString());
        try {
            Checkpoint::open(file);
            QFAIL("a malformed file was accepted");
        } catch (const FormatError& e) {
            const std::string message = e.what();
            QVERIFY2(message.find(expected.toStdString()) != std::string::npos, message.c_str());
            QVERIFY2(message.find(file.string()) != std::string::npos, "the message must name the file");
        }
    }

    void unsupportedAndMissingInputs()
    {
        QVERIFY_THROWS_EXCEPTION(IoError, Checkpoint::open(path("does-not-exist")));
        test::writeFile(path("weights.bin"), "not a pickle");
        QVERIFY_THROWS_EXCEPTION(FormatError, Checkpoint::open(path("weights.bin")));
        const auto empty = path("empty-folder");
        fs::create_directories(empty);
        QVERIFY_THROWS_EXCEPTION(FormatError, Checkpoint::open(empty));
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
