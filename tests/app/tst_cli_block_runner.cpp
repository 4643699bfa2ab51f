// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli eval` and `calibrate` on the block runner, as a user runs them: the per-block
// and per-module divergence in the JSON, the memory fields, peak RSS that does not grow with the
// number of layers (each run is its own process, so its peak is its own), a damaged checkpoint
// failing at the block that needs the tensor with nothing written, and a limit too small.
#include "cli_runner.h"
#include "generated_models.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>

namespace {

QString writeIds(const QString& file, int count, int vocab)
{
    QString ids = QStringLiteral("[1");
    for (int i = 1; i < count; ++i)
        ids += QStringLiteral(", %1").arg((i * 53 + 7) % vocab);
    QFile f(file);
    if (f.open(QIODevice::WriteOnly))
        f.write((ids + QStringLiteral("]")).toUtf8());
    return file;
}

QJsonObject json(const CliRun& r)
{
    return QJsonDocument::fromJson(r.out.toUtf8()).object();
}

double mib(double bytes)
{
    return bytes / (1 << 20);
}

} // namespace

class TestCliBlockRunner : public CliTest
{
    Q_OBJECT

private:
    QString generated(const QString& name, const qs::test::GeneratedModel& m)
    {
        const QString folder = m_dir.filePath(name);
        qs::test::writeGeneratedModel(folder.toStdString(), m);
        return folder;
    }

private Q_SLOTS:
    void initTestCase() { writeDemo(); }

    void evalReportsBlocksModulesAndMemory()
    {
        const QString data = writeIds(m_dir.filePath(QStringLiteral("ids.json")), 130, 512);
        const Run r = run({ QStringLiteral("eval"), m_demo, QStringLiteral("--data"), data, QStringLiteral("--seq-len"),
            QStringLiteral("64"), QStringLiteral("--scheme"), QStringLiteral("vllm-w8a8-int8"),
            QStringLiteral("--keep"), QStringLiteral("lm_head"), QStringLiteral("--max-memory"),
            QStringLiteral("900M"), QStringLiteral("--json") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject j = json(r);
        const QJsonArray blocks = j.value(QStringLiteral("blocks")).toArray();
        QCOMPARE(blocks.size(), 4);
        for (int i = 0; i < blocks.size(); ++i) {
            const QJsonObject b = blocks[i].toObject();
            QCOMPARE(b.value(QStringLiteral("block")).toInt(), i);
            QCOMPARE(b.value(QStringLiteral("name")).toString(), QStringLiteral("model.layers.%1").arg(i));
            QVERIFY(b.value(QStringLiteral("relative_mse")).toDouble() > 0);
            QVERIFY(b.value(QStringLiteral("cosine")).toDouble() > 0.9);
        }
        const QJsonArray modules = j.value(QStringLiteral("modules")).toArray();
        QCOMPARE(modules.size(), 4 * 7);
        const QJsonObject first = modules[0].toObject();
        QCOMPARE(first.value(QStringLiteral("name")).toString(), QStringLiteral("model.layers.0.self_attn.q_proj"));
        QVERIFY(first.value(QStringLiteral("own_relative_mse")).toDouble() > 0);
        // The first module of the first layer sees the float input: both errors are its own.
        QCOMPARE(first.value(QStringLiteral("accumulated_relative_mse")).toDouble(),
            first.value(QStringLiteral("own_relative_mse")).toDouble());
        QCOMPARE(j.value(QStringLiteral("max_memory_bytes")).toDouble(), 900.0 * (1 << 20));
        QVERIFY(j.value(QStringLiteral("peak_rss_bytes")).toDouble() > 0);
        QVERIFY(j.value(QStringLiteral("peak_rss_bytes")).toDouble() < 900.0 * (1 << 20));
        QVERIFY(j.value(QStringLiteral("block_load_seconds")).toDouble() >= 0);
        // Without a scheme there is nothing to compare.
        const Run f = run({ QStringLiteral("eval"), m_demo, QStringLiteral("--data"), data, QStringLiteral("--json") });
        QVERIFY2(f.exitCode == 0, qPrintable(f.err));
        QVERIFY(!json(f).contains(QStringLiteral("blocks")));
        QVERIFY(json(f).value(QStringLiteral("peak_rss_bytes")).toDouble() > 0);
    }

    // Peak RSS at 4 and at 16 layers: within one block of each other, and below two blocks (in
    // both the float and the quantized copy) plus the hidden states plus a fixed margin.
    void peakMemoryDoesNotGrowWithLayers()
    {
        qs::test::GeneratedModel m;
        m.hidden = 768;
        m.intermediate = 2048;
        m.heads = 12;
        m.kvHeads = 4;
        m.vocab = 1024;
        m.bf16 = true;
        const QString data = writeIds(m_dir.filePath(QStringLiteral("ids1024.json")), 129, 1024);
        std::vector<QJsonObject> runs;
        for (int layers : { 4, 16 }) {
            m.layers = layers;
            const QString model = generated(QStringLiteral("layers%1").arg(layers), m);
            const Run r = run({ QStringLiteral("eval"), model, QStringLiteral("--data"), data,
                QStringLiteral("--seq-len"), QStringLiteral("128"), QStringLiteral("--scheme"),
                QStringLiteral("vllm-w8a8-int8"), QStringLiteral("--json") });
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            runs.push_back(json(r));
            std::filesystem::remove_all(model.toStdString());
        }
        const double block = runs[1].value(QStringLiteral("largest_block_bytes")).toDouble();
        const double hidden = runs[1].value(QStringLiteral("hidden_bytes")).toDouble();
        const double peak4 = runs[0].value(QStringLiteral("peak_rss_bytes")).toDouble();
        const double peak16 = runs[1].value(QStringLiteral("peak_rss_bytes")).toDouble();
        const double margin = 400.0 * (1 << 20); // libtorch, Qt and the allocators' caches
        qInfo("block %.1f MiB, hidden states %.2f MiB; peak RSS %.1f MiB at 4 layers, %.1f MiB at 16", mib(block),
            mib(hidden), mib(peak4), mib(peak16));
        QVERIFY(block > 20.0 * (1 << 20));
        QVERIFY2(std::abs(peak16 - peak4) < block, "peak RSS grew with the number of layers");
        QVERIFY2(peak16 < 2 * 2 * block + hidden + margin, "peak RSS above two blocks plus states plus margin");
    }

    void missingTensorFailsAtItsBlockWithNothingWritten()
    {
        qs::test::GeneratedModel m;
        m.layers = 3;
        m.omit = { "model.layers.1.self_attn.v_proj.weight" };
        const QString model = generated(QStringLiteral("damaged"), m);
        const QString data = writeIds(m_dir.filePath(QStringLiteral("ids96.json")), 40, 96);
        const QString logits = m_dir.filePath(QStringLiteral("logits.npy"));
        const Run r = run({ QStringLiteral("eval"), model, QStringLiteral("--data"), data, QStringLiteral("--logits"),
            logits, QStringLiteral("--json") });
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains(QStringLiteral("model.layers.1.self_attn.v_proj.weight")), qPrintable(r.err));
        QVERIFY(!QFile::exists(logits));
        QVERIFY(r.out.isEmpty());
    }

    void tooSmallAMemoryLimit()
    {
        const QString data = writeIds(m_dir.filePath(QStringLiteral("ids.json")), 130, 512);
        const Run r = run({ QStringLiteral("eval"), m_demo, QStringLiteral("--data"), data, QStringLiteral("--max-memory"),
            QStringLiteral("20M") });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QStringLiteral("cannot hold block model.layers.")), qPrintable(r.err));
        const Run bad = run({ QStringLiteral("eval"), m_demo, QStringLiteral("--data"), data,
            QStringLiteral("--max-memory"), QStringLiteral("lots") });
        QCOMPARE(bad.exitCode, 2);
        QVERIFY2(bad.err.contains(QStringLiteral("--max-memory")), qPrintable(bad.err));
    }

    void evalWithGptq()
    {
        const QString data = writeIds(m_dir.filePath(QStringLiteral("ids.json")), 130, 512);
        const QStringList base { QStringLiteral("eval"), m_demo, QStringLiteral("--data"), data, QStringLiteral("--seq-len"),
            QStringLiteral("64") };
        const Run r = run(base
            + QStringList { QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"), QStringLiteral("--keep"),
                QStringLiteral("lm_head"), QStringLiteral("--gptq"), QStringLiteral("--calibration-samples"),
                QStringLiteral("3"), QStringLiteral("--calibration-seq-len"), QStringLiteral("32"),
                QStringLiteral("--json") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject j = json(r);
        QCOMPARE(j.value(QStringLiteral("algorithms")).toArray(), QJsonArray { QStringLiteral("gptq") });
        QCOMPARE(j.value(QStringLiteral("calibration_windows")).toInt(), 3);
        const QJsonArray modules = j.value(QStringLiteral("modules")).toArray();
        QCOMPARE(modules.size(), 4 * 7);
        for (const auto& m : modules)
            QVERIFY(m.toObject().value(QStringLiteral("gptq_loss")).toDouble() > 0);
        QVERIFY(j.value(QStringLiteral("perplexity")).toDouble() > 1);
        // Without GPTQ nothing ran before the evaluation.
        const Run plain = run(base
            + QStringList { QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"), QStringLiteral("--json") });
        QVERIFY2(plain.exitCode == 0, qPrintable(plain.err));
        QCOMPARE(json(plain).value(QStringLiteral("algorithms")).toArray().size(), 0);
        // Bad settings fail before any work, naming what is wrong.
        const Run noScheme = run(base + QStringList { QStringLiteral("--gptq") });
        QCOMPARE(noScheme.exitCode, 2);
        QVERIFY2(noScheme.err.contains(QStringLiteral("--gptq goes with --scheme")), qPrintable(noScheme.err));
        const Run order = run(base
            + QStringList { QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"), QStringLiteral("--gptq"),
                QStringLiteral("--gptq-actorder"), QStringLiteral("sideways") });
        QCOMPARE(order.exitCode, 2);
        QVERIFY2(order.err.contains(QStringLiteral("sideways")), qPrintable(order.err));
        const Run damp = run(base
            + QStringList { QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"), QStringLiteral("--gptq"),
                QStringLiteral("--gptq-dampening"), QStringLiteral("2") });
        QCOMPARE(damp.exitCode, 2);
        QVERIFY2(damp.err.contains(QStringLiteral("--gptq-dampening")), qPrintable(damp.err));
        const Run fp8 = run(base
            + QStringList { QStringLiteral("--scheme"), QStringLiteral("vllm-fp8-dynamic"), QStringLiteral("--gptq") });
        QCOMPARE(fp8.exitCode, 2);
        QVERIFY2(fp8.err.contains(QStringLiteral("GPTQ")), qPrintable(fp8.err));
    }

    void calibrateRunsOnTheBlockRunner()
    {
        const QString data = writeIds(m_dir.filePath(QStringLiteral("ids.json")), 130, 512);
        const QString out = m_dir.filePath(QStringLiteral("capture.h5"));
        const Run r = run({ QStringLiteral("calibrate"), m_demo, QStringLiteral("--data"), data, QStringLiteral("-o"),
            out, QStringLiteral("--seq-len"), QStringLiteral("32"), QStringLiteral("--samples"), QStringLiteral("3"),
            QStringLiteral("--max-memory"), QStringLiteral("800M"), QStringLiteral("--json") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(QFile::exists(out));
        QCOMPARE(json(r).value(QStringLiteral("windows")).toInt(), 3);
        QVERIFY(json(r).value(QStringLiteral("points")).toInt() > 4 * 7);
        QVERIFY(json(r).value(QStringLiteral("peak_rss_bytes")).toDouble() > 0);
    }
};

QTEST_GUILESS_MAIN(TestCliBlockRunner)
#include "tst_cli_block_runner.moc"
