// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli's analysis commands as a user runs them: stats and eval JSON, plots to files.
#include "cli_runner.h"

#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

class TestCliAnalysis : public CliTest
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { writeDemo(); }

    void statsJson()
    {
        const QString name = QStringLiteral("model.layers.0.mlp.down_proj.weight");
        const Run r = run({ QStringLiteral("stats"), m_demo, QStringLiteral("--tensor"), name,
            QStringLiteral("--scheme"), QStringLiteral("aiu-int8"), QStringLiteral("--json") });
        QCOMPARE(r.exitCode, 0);
        const QJsonObject doc = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(doc.value(QStringLiteral("scheme")).toString(), QStringLiteral("aiu-int8"));
        const QJsonArray tensors = doc.value(QStringLiteral("tensors")).toArray();
        QCOMPARE(tensors.size(), 1);
        const QJsonObject t = tensors.at(0).toObject();
        QCOMPARE(t.value(QStringLiteral("name")).toString(), name);
        for (const char* key : { "min", "max", "mean", "std", "kurtosis", "mse", "sqnr_db", "percentiles" })
            QVERIFY2(t.contains(QLatin1String(key)), key);
        QVERIFY(t.value(QStringLiteral("min")).toDouble() < t.value(QStringLiteral("max")).toDouble());
        QVERIFY(t.value(QStringLiteral("sqnr_db")).toDouble() > 30);
        QCOMPARE(t.value(QStringLiteral("code_std")).toArray().size(), 256);
        QCOMPARE(t.value(QStringLiteral("code_std_before")).toArray().size(), 256);
        QVERIFY(t.value(QStringLiteral("code_std_min")).toDouble() > 20);

        // Every tensor without a scheme: statistics only.
        const Run all = run({ QStringLiteral("stats"), m_demo, QStringLiteral("--json") });
        QCOMPARE(all.exitCode, 0);
        const QJsonArray every = QJsonDocument::fromJson(all.out.toUtf8()).object().value("tensors").toArray();
        QCOMPARE(every.size(), 39);
        for (const auto& v : every) {
            QVERIFY(!v.toObject().value(QStringLiteral("quantized")).toBool());
            QVERIFY(v.toObject().contains(QStringLiteral("kurtosis")));
        }
        const Run text
            = run({ QStringLiteral("stats"), m_demo, QStringLiteral("--scheme"), QStringLiteral("nxd-int8") });
        QCOMPARE(text.exitCode, 0);
        QVERIFY2(text.out.contains(QStringLiteral("SQNR dB")) && text.out.contains(name), qPrintable(text.out));
        QCOMPARE(
            run({ QStringLiteral("stats"), m_demo, QStringLiteral("--tensor"), QStringLiteral("nope") }).exitCode, 2);
    }

    // `eval`: perplexity of the demo model on token ids, float and with a scheme.
    void evalJson()
    {
        QString ids = QStringLiteral("[1");
        for (int i = 0; i < 120; ++i)
            ids += QStringLiteral(", %1").arg((i * 53 + 7) % 512);
        const QString data = m_dir.filePath(QStringLiteral("ids.json"));
        QFile f(data);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write((ids + QStringLiteral("]")).toUtf8());
        f.close();
        const Run r = run({ QStringLiteral("eval"), m_demo, QStringLiteral("--data"), data, QStringLiteral("--seq-len"),
            QStringLiteral("64"), QStringLiteral("--json") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject j = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QVERIFY(j.value(QStringLiteral("perplexity")).toDouble() > 1);
        QCOMPARE(j.value(QStringLiteral("tokens")).toInt(), 120);
        QCOMPARE(j.value(QStringLiteral("windows")).toInt(), 2);
        QVERIFY(!j.contains(QStringLiteral("kl_divergence")));
        const Run q = run({ QStringLiteral("eval"), m_demo, QStringLiteral("--data"), data, QStringLiteral("--seq-len"),
            QStringLiteral("64"), QStringLiteral("--scheme"), QStringLiteral("vllm-w8a8-int8"),
            QStringLiteral("--keep"), QStringLiteral("lm_head"), QStringLiteral("--json") });
        QVERIFY2(q.exitCode == 0, qPrintable(q.err));
        const QJsonObject k = QJsonDocument::fromJson(q.out.toUtf8()).object();
        QCOMPARE(
            k.value(QStringLiteral("perplexity_float")).toDouble(), j.value(QStringLiteral("perplexity")).toDouble());
        QVERIFY(k.value(QStringLiteral("kl_divergence")).toDouble() > 0);
        QVERIFY(k.value(QStringLiteral("top1_agreement")).toDouble() > 0.5);
        QCOMPARE(k.value(QStringLiteral("kept")).toArray().size(), 1);
        QCOMPARE(k.value(QStringLiteral("activations")).toString(), QStringLiteral("int8-token-dynamic"));
        QVERIFY(k.value(QStringLiteral("quantized_modules")).toInt() > 0); // every Linear but lm_head
        // Static per-tensor activations: ranges calibrated on two windows first.
        const Run s = run({ QStringLiteral("eval"), m_demo, QStringLiteral("--data"), data, QStringLiteral("--seq-len"),
            QStringLiteral("32"), QStringLiteral("--scheme"), QStringLiteral("vllm-w8a8-int8"),
            QStringLiteral("--activations"), QStringLiteral("int8-tensor-static"),
            QStringLiteral("--calibration-samples"), QStringLiteral("2"), QStringLiteral("--json") });
        QVERIFY2(s.exitCode == 0, qPrintable(s.err));
        const QJsonObject st = QJsonDocument::fromJson(s.out.toUtf8()).object();
        QCOMPARE(st.value(QStringLiteral("activations")).toString(), QStringLiteral("int8-tensor-static"));
        QCOMPARE(st.value(QStringLiteral("calibration_windows")).toInt(), 2);
        QVERIFY(st.value(QStringLiteral("kl_divergence")).toDouble() > 0);
        // A decoder is not scored as a masked LM.
        const Run m = run({ QStringLiteral("eval"), m_demo, QStringLiteral("--data"), data, QStringLiteral("--protocol"),
            QStringLiteral("masked") });
        QCOMPARE(m.exitCode, 2);
        QVERIFY2(m.err.contains(QStringLiteral("masked-LM scoring is for encoders")), qPrintable(m.err));
        // Text needs a tokenizer, which the demo model does not have.
        const QString text = m_dir.filePath(QStringLiteral("story.txt"));
        QFile t(text);
        QVERIFY(t.open(QIODevice::WriteOnly));
        t.write("Once upon a time");
        t.close();
        const Run e = run({ QStringLiteral("eval"), m_demo, QStringLiteral("--data"), text });
        QCOMPARE(e.exitCode, 2);
        QVERIFY2(e.err.contains(QStringLiteral("no tokenizer")), qPrintable(e.err));
    }

    // `plot`: every kind to every file type, drawn without a display.
    void plotsToFiles_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("suffix");
        QTest::addColumn<QStringList>("extra");
        QTest::newRow("histogram png") << "histogram"
                                       << "png" << QStringList { "--scheme", "nxd-int8" };
        QTest::newRow("histogram svg") << "histogram"
                                       << "svg" << QStringList {};
        QTest::newRow("codes pdf") << "codes"
                                   << "pdf" << QStringList { "--scheme", "vllm-w4a16" };
        QTest::newRow("heatmap png") << "heatmap"
                                     << "png" << QStringList { "--reduction", "mean" };
        QTest::newRow("heatmap error svg") << "heatmap"
                                           << "svg" << QStringList { "--scheme", "nxd-fp8", "--field", "error" };
        QTest::newRow("channels png") << "channels"
                                      << "png" << QStringList { "--scheme", "aiu-int8" };
        QTest::newRow("channel ranges pdf") << "channels"
                                            << "pdf" << QStringList { "--field", "values" };
    }
    void plotsToFiles()
    {
        QFETCH(QString, kind);
        QFETCH(QString, suffix);
        QFETCH(QStringList, extra);
        const QString out = m_dir.filePath(QStringLiteral("plot_%1_%2.%3").arg(kind).arg(extra.size()).arg(suffix));
        QStringList args { QStringLiteral("plot"), m_demo, QStringLiteral("--tensor"),
            QStringLiteral("model.layers.2.mlp.up_proj.weight"), QStringLiteral("--kind"), kind, QStringLiteral("-o"),
            out, QStringLiteral("--width"), QStringLiteral("640"), QStringLiteral("--height"), QStringLiteral("400") };
        const Run r = run(args + extra);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile f(out);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray head = f.read(64);
        if (suffix == QLatin1String("png")) {
            const QImage image(out);
            QCOMPARE(image.size(), QSize(640, 400));
            int ink = 0; // not blank: a good share of non-white pixels
            for (int y = 0; y < image.height(); y += 4)
                for (int x = 0; x < image.width(); x += 4)
                    ink += image.pixelColor(x, y).lightness() < 200 ? 1 : 0;
            QVERIFY2(ink > 200, qPrintable(QString::number(ink)));
        } else if (suffix == QLatin1String("svg")) {
            QVERIFY(head.startsWith("<?xml"));
        } else {
            QVERIFY(head.startsWith("%PDF"));
        }
    }
};

QTEST_GUILESS_MAIN(TestCliAnalysis)
#include "tst_cli_analysis.moc"
