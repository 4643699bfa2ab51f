// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli run PROJECT.qsproj` and `convert --save-project`: the saved project replays
// the conversion byte for byte, on its own checkpoint and on another one (--checkpoint), to
// another folder (-o); a project from a newer schema or with an unknown field is refused naming
// the reason; and GPTQ without calibration data is refused instead of quietly rounded to nearest.
#include "cli_runner.h"
#include "test_support.h"

#include <QTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

class TestCliProject : public CliTest
{
    Q_OBJECT

    QString path(const QString& name) const { return m_dir.filePath(name); }

    static Json readJson(const QString& file)
    {
        std::ifstream in(file.toStdString());
        return Json::parse(in);
    }
    static void writeJson(const QString& file, const Json& j) { std::ofstream(file.toStdString()) << j.dump(2); }

private Q_SLOTS:
    void initTestCase() { writeDemo(); }

    void runReplaysConvertByteForByte()
    {
        const QString project = path(QStringLiteral("demo.qsproj"));
        const Run convert
            = run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"), path(QStringLiteral("direct")),
                QStringLiteral("--format"), QStringLiteral("compressed-tensors"), QStringLiteral("--keep"),
                QStringLiteral("lm_head"), QStringLiteral("--keep"), QStringLiteral("layers.3.mlp.down_proj"),
                QStringLiteral("--quantize"), QStringLiteral("layers.0.self_attn=vllm-w4a16"),
                QStringLiteral("--max-shard-size"), QStringLiteral("2MB"), QStringLiteral("--save-project"), project });
        QVERIFY2(convert.exitCode == 0, qPrintable(convert.err));
        const Json j = readJson(project);
        QCOMPARE(j["quantscope_project"].get<int>(), 1);
        QCOMPARE(j["export"]["format"].get<std::string>(), std::string("compressed-tensors"));
        QCOMPARE(j["export"]["max_shard_size"].get<std::uint64_t>(), std::uint64_t(2'000'000));
        QCOMPARE(j["rules"].size(), std::size_t(3));

        const Run replay = run({ QStringLiteral("run"), project, QStringLiteral("-o"), path(QStringLiteral("replayed")),
            QStringLiteral("--json") });
        QVERIFY2(replay.exitCode == 0, qPrintable(replay.err));
        const Json report = Json::parse(replay.out.toStdString());
        QCOMPARE(report["kept_modules"].size(), std::size_t(2));
        const auto direct = qs::test::snapshotTree(path(QStringLiteral("direct")).toStdString());
        const auto replayed = qs::test::snapshotTree(path(QStringLiteral("replayed")).toStdString());
        QVERIFY(direct.size() > 3); // shards, index, config, recipe, manifest
        QCOMPARE(replayed.size(), direct.size());
        for (std::size_t i = 0; i < direct.size(); ++i) {
            QCOMPARE(replayed[i].first, direct[i].first);
            QVERIFY2(replayed[i].second == direct[i].second, direct[i].first.c_str());
        }

        // The project's own destination unless -o; an existing one needs --force.
        QCOMPARE(run({ QStringLiteral("run"), project }).exitCode, 2);
        QCOMPARE(run({ QStringLiteral("run"), project, QStringLiteral("--force") }).exitCode, 0);
    }

    void runOnAnotherCheckpoint()
    {
        const QString project = path(QStringLiteral("demo.qsproj"));
        const QString other = path(QStringLiteral("tomorrow"));
        fs::copy(m_demo.toStdString(), other.toStdString(), fs::copy_options::recursive);
        const Run r = run({ QStringLiteral("run"), project, QStringLiteral("--checkpoint"), other, QStringLiteral("-o"),
            path(QStringLiteral("tomorrow-out")) });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(other));
        const auto a = qs::test::snapshotTree(path(QStringLiteral("direct")).toStdString());
        const auto b = qs::test::snapshotTree(path(QStringLiteral("tomorrow-out")).toStdString());
        QCOMPARE(b.size(), a.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (a[i].first != "quantscope_manifest.json") // it names the source
                QVERIFY2(a[i].second == b[i].second, a[i].first.c_str());
        }
    }

    void refusedProjectsSayWhy()
    {
        const Json good = readJson(path(QStringLiteral("demo.qsproj")));
        Json newer = good;
        newer["quantscope_project"] = 7;
        writeJson(path(QStringLiteral("newer.qsproj")), newer);
        Run r = run({ QStringLiteral("run"), path(QStringLiteral("newer.qsproj")), QStringLiteral("-o"),
            path(QStringLiteral("never")) });
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("schema version 7")) && r.err.contains(QStringLiteral("newer.qsproj")),
            qPrintable(r.err));

        Json unknown = good;
        unknown["export"]["compression"] = "zstd";
        writeJson(path(QStringLiteral("unknown.qsproj")), unknown);
        r = run({ QStringLiteral("run"), path(QStringLiteral("unknown.qsproj")), QStringLiteral("-o"),
            path(QStringLiteral("never")) });
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("unknown field 'compression'")), qPrintable(r.err));

        Json gptq = good;
        gptq["algorithms"]["gptq"] = true;
        writeJson(path(QStringLiteral("gptq.qsproj")), gptq);
        r = run({ QStringLiteral("run"), path(QStringLiteral("gptq.qsproj")), QStringLiteral("-o"),
            path(QStringLiteral("never")) });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QStringLiteral("no calibration data is given")), qPrintable(r.err));
        QVERIFY(!QFile::exists(path(QStringLiteral("never"))));
    }
};

QTEST_GUILESS_MAIN(TestCliProject)
#include "tst_cli_project.moc"
