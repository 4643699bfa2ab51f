// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli as a user runs it: exit codes, the inspect JSON contract, convert, and
// error messages that name the problem.
#include "cli_runner.h"
#include "dtype.h"
#include "io/torch_file_writer.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

class TestCli : public CliTest
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { writeDemo(); }

    void helpAndVersion()
    {
        QCOMPARE(run({ QStringLiteral("--version") }).exitCode, 0);
        const Run help = run({ QStringLiteral("help"), QStringLiteral("convert") });
        QCOMPARE(help.exitCode, 0);
        QVERIFY(help.out.contains(QStringLiteral("--keep PATTERN")));
        QCOMPARE(run({}).exitCode, 2);
    }

    void helpCoversEveryCommand()
    {
        // The listing, the dispatcher and `help COMMAND` read one list: every listed command
        // has its own usage text and runs (its option parser answers), and nothing else does.
        const Run listing = run({ QStringLiteral("help") });
        QCOMPARE(listing.exitCode, 0);
        QCOMPARE(run({ QStringLiteral("--help") }).out, listing.out);
        QCOMPARE(run({ QStringLiteral("-h") }).out, listing.out);
        const int start = listing.out.indexOf(QStringLiteral("commands:\n"));
        QVERIFY(start >= 0);
        const int end = listing.out.indexOf(QStringLiteral("\n\n"), start);
        QStringList names;
        for (const QString& line : listing.out.mid(start, end - start).split(QLatin1Char('\n')).mid(1))
            names << line.trimmed().section(QLatin1Char(' '), 0, 0);
        for (const char* expected :
            { "demo", "inspect", "convert", "schemes", "select", "stats", "plot", "eval", "calibrate", "tokenize" })
            QVERIFY2(names.contains(QLatin1String(expected)), expected);
        QSet<QString> texts;
        for (const QString& name : names) {
            const Run help = run({ QStringLiteral("help"), name });
            QCOMPARE(help.exitCode, 0);
            if (name == QLatin1String("help")) {
                QCOMPARE(help.out, listing.out); // help's own usage is the listing
                continue;
            }
            QVERIFY2(
                help.out.startsWith(QStringLiteral("quantscope-cli ") + name + QLatin1Char(' ')), qPrintable(name));
            QVERIFY2(help.out.count(QLatin1Char('\n')) >= 2, qPrintable(help.out));
            QVERIFY2(!texts.contains(help.out), qPrintable(name));
            texts.insert(help.out);
            const Run r = run({ name, QStringLiteral("--frob") });
            QCOMPARE(r.exitCode, 2);
            QVERIFY2(
                r.err.contains(QStringLiteral("'%1': unknown option --frob (see 'quantscope-cli help %1')").arg(name)),
                qPrintable(r.err));
        }
        const Run unknown = run({ QStringLiteral("frobnicate"), QStringLiteral("--json") });
        QCOMPARE(unknown.exitCode, 2);
        QVERIFY2(unknown.err.contains(QStringLiteral("unknown command 'frobnicate'")), qPrintable(unknown.err));
        QVERIFY(unknown.out.isEmpty());
        // `help` of a name that is not a command shows the listing, as it always has.
        const Run helpUnknown = run({ QStringLiteral("help"), QStringLiteral("frobnicate") });
        QCOMPARE(helpUnknown.exitCode, 0);
        QCOMPARE(helpUnknown.out, listing.out);
    }

    void inspectJson()
    {
        const Run r = run({ QStringLiteral("inspect"), m_demo, QStringLiteral("--json") });
        QCOMPARE(r.exitCode, 0);
        const QJsonObject root = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(root.value(QStringLiteral("format")).toString(), QStringLiteral("safetensors"));
        const QJsonArray tensors = root.value(QStringLiteral("tensors")).toArray();
        QCOMPARE(tensors.size(), 39);
        const QJsonObject first = tensors.first().toObject();
        QCOMPARE(first.value(QStringLiteral("name")).toString(), QStringLiteral("lm_head.weight"));
        QCOMPARE(first.value(QStringLiteral("dtype")).toString(), QStringLiteral("BF16"));
        QCOMPARE(first.value(QStringLiteral("shape")).toArray(), (QJsonArray { 512, 256 }));
        // natural order: layer 2 before layer 3 ... and the text form lists the same tensors
        const Run text = run({ QStringLiteral("inspect"), m_demo });
        QCOMPARE(text.exitCode, 0);
        QVERIFY(text.out.contains(QStringLiteral("model.layers.3.mlp.down_proj.weight")));
    }

    void convertNxd()
    {
        const QString out = m_dir.filePath(QStringLiteral("nxd"));
        const Run r = run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"), out, QStringLiteral("--format"),
            QStringLiteral("nxd"), QStringLiteral("--keep"), QStringLiteral("lm_head"),
            QStringLiteral("--keep=layers.0.mlp"), QStringLiteral("--keep"), QStringLiteral("vision_tower"),
            QStringLiteral("--json") });
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.contains(QStringLiteral("\"vision_tower\" (--keep)) matches no quantizable (Linear) module")),
            qPrintable(r.err));
        const QJsonObject report = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(report.value(QStringLiteral("quantized_count")).toInt(), 29 - 4);
        QCOMPARE(report.value(QStringLiteral("modules_to_not_convert")).toArray(),
            (QJsonArray { QStringLiteral("lm_head"), QStringLiteral("layers.0.mlp"), QStringLiteral("vision_tower") }));
        QCOMPARE(report.value(QStringLiteral("kept_modules")).toArray().size(), 4);
        QVERIFY(QFile::exists(out + QStringLiteral("/modules_to_not_convert.json")));

        const Run again = run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"), out,
            QStringLiteral("--format"), QStringLiteral("nxd") });
        QCOMPARE(again.exitCode, 2);
        QVERIFY2(again.err.contains(QStringLiteral("already exists")), qPrintable(again.err));
        QCOMPARE(run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"), out, QStringLiteral("--format"),
                         QStringLiteral("nxd"), QStringLiteral("--force") })
                     .exitCode,
            0);
    }

    // select: every quantizable module with its status and deciding rule, the warnings, and the
    // keep list written in each target's style.
    void selectExplainsEveryModule()
    {
        const Run r = run({ QStringLiteral("select"), m_demo, QStringLiteral("--keep"), QStringLiteral("layers.1"),
            QStringLiteral("--keep-regex"), QStringLiteral(".*lm_head"), QStringLiteral("--preset"),
            QStringLiteral("edge-mlps:1"), QStringLiteral("--target"), QStringLiteral("nxd"),
            QStringLiteral("--json") });
        QCOMPARE(r.exitCode, 0);
        const QJsonObject j = QJsonDocument::fromJson(r.out.toUtf8()).object();
        const QJsonArray modules = j.value(QStringLiteral("modules")).toArray();
        QCOMPARE(modules.size(), 29);
        QStringList kept;
        for (const auto& m : modules) {
            const QJsonObject o = m.toObject();
            QVERIFY(o.contains(QStringLiteral("name")) && o.contains(QStringLiteral("keep"))
                && o.contains(QStringLiteral("rule")));
            if (o.value(QStringLiteral("keep")).toBool()) {
                kept << o.value(QStringLiteral("name")).toString();
                QVERIFY(o.value(QStringLiteral("rule")).isString());
            } else {
                QVERIFY(o.value(QStringLiteral("rule")).isNull());
            }
        }
        QVERIFY(kept.contains(QStringLiteral("lm_head")));
        QVERIFY(kept.contains(QStringLiteral("model.layers.1.self_attn.q_proj")));
        QVERIFY(kept.contains(QStringLiteral("model.layers.3.mlp.up_proj")));
        QCOMPARE(kept.size(), 1 + 7 + 3 + 3); // lm_head, layer 1, MLPs of layers 0 and 3
        QCOMPARE(j.value(QStringLiteral("kept")).toInt(), kept.size());
        QVERIFY(j.value(QStringLiteral("warnings")).toArray().isEmpty());

        // A list file in each format, written and read back to the same selection.
        for (const char* format :
            { "nxd-json", "nxd-json-model", "nxd-json-draft", "ct-ignore", "recipe", "fms-mo", "text" }) {
            const QString file = m_dir.filePath(QStringLiteral("keep-%1").arg(QString::fromUtf8(format)));
            const Run w = run({ QStringLiteral("select"), m_demo, QStringLiteral("--preset"),
                QStringLiteral("attention"), QStringLiteral("--keep"), QStringLiteral("lm_head"),
                QStringLiteral("--write"), QString::fromUtf8(format), QStringLiteral("-o"), file });
            QCOMPARE(w.exitCode, 0);
            const Run back = run(
                { QStringLiteral("select"), m_demo, QStringLiteral("--keep-file"), file, QStringLiteral("--json") });
            QCOMPARE(back.exitCode, 0);
            QCOMPARE(QJsonDocument::fromJson(back.out.toUtf8()).object().value(QStringLiteral("kept")).toInt(), 17);
        }

        // Measured error: the worst three modules of the scheme.
        const Run worst = run({ QStringLiteral("select"), m_demo, QStringLiteral("--keep-worst"), QStringLiteral("3"),
            QStringLiteral("--scheme"), QStringLiteral("nxd-int8-tensor"), QStringLiteral("--json") });
        QCOMPARE(worst.exitCode, 0);
        QCOMPARE(QJsonDocument::fromJson(worst.out.toUtf8()).object().value(QStringLiteral("kept")).toInt(), 3);

        const Run ambiguous
            = run({ QStringLiteral("select"), m_demo, QStringLiteral("--keep"), QStringLiteral("layers.") });
        QCOMPARE(ambiguous.exitCode, 0);
        const Run bad = run({ QStringLiteral("select"), m_demo, QStringLiteral("--preset"), QStringLiteral("nope") });
        QCOMPARE(bad.exitCode, 2);
    }

    void convertWithSchemes()
    {
        const Run list = run({ QStringLiteral("schemes"), QStringLiteral("--json") });
        QCOMPARE(list.exitCode, 0);
        const QJsonArray presets = QJsonDocument::fromJson(list.out.toUtf8()).array();
        QCOMPARE(presets.size(), 13);
        QCOMPARE(presets.at(2).toObject().value(QStringLiteral("name")).toString(), QStringLiteral("nxd-fp8"));
        QCOMPARE(presets.at(2).toObject().value(QStringLiteral("fp8_max")).toDouble(), 240.0);
        QCOMPARE(presets.at(4).toObject().value(QStringLiteral("name")).toString(), QStringLiteral("vllm-w8a8-int8"));
        QVERIFY(presets.at(4).toObject().value(QStringLiteral("weight_dtype_math")).toBool());
        QVERIFY(!presets.at(0).toObject().value(QStringLiteral("weight_dtype_math")).toBool(true));

        const QString out = m_dir.filePath(QStringLiteral("nxd-fp8"));
        const Run r = run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"), out, QStringLiteral("--format"),
            QStringLiteral("nxd"), QStringLiteral("--scheme"), QStringLiteral("nxd-fp8"), QStringLiteral("--json") });
        QCOMPARE(r.exitCode, 0);
        const QJsonObject report = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(report.value(QStringLiteral("scheme")).toObject().value(QStringLiteral("format")).toString(),
            QStringLiteral("fp8-e4m3"));
        const Run t = run({ QStringLiteral("inspect"), out, QStringLiteral("--tensor"),
            QStringLiteral("model.layers.0.mlp.up_proj.weight"), QStringLiteral("--json") });
        QCOMPARE(t.exitCode, 0);
        const QJsonObject tj = QJsonDocument::fromJson(t.out.toUtf8()).object();
        QCOMPARE(tj.value(QStringLiteral("dtype")).toString(), QStringLiteral("F8_E4M3"));
        QCOMPARE(tj.value(QStringLiteral("stored_quantization")).toString(), QStringLiteral("nxd"));

        // A quantize rule with its own scheme: that module in fp8, its layer otherwise kept.
        const QString mixed = m_dir.filePath(QStringLiteral("nxd-mixed"));
        const Run m = run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"), mixed, QStringLiteral("--format"),
            QStringLiteral("nxd"), QStringLiteral("--keep"), QStringLiteral("layers.0."), QStringLiteral("--quantize"),
            QStringLiteral("layers.0.mlp.up_proj=nxd-fp8") });
        QCOMPARE(m.exitCode, 0);
        auto dtypeOf = [&](const QString& name) {
            const Run t
                = run({ QStringLiteral("inspect"), mixed, QStringLiteral("--tensor"), name, QStringLiteral("--json") });
            return QJsonDocument::fromJson(t.out.toUtf8()).object().value(QStringLiteral("dtype")).toString();
        };
        QCOMPARE(dtypeOf(QStringLiteral("model.layers.0.mlp.up_proj.weight")), QStringLiteral("F8_E4M3"));
        QCOMPARE(dtypeOf(QStringLiteral("model.layers.0.mlp.down_proj.weight")), QStringLiteral("BF16"));
        QCOMPARE(dtypeOf(QStringLiteral("model.layers.1.mlp.up_proj.weight")), QStringLiteral("I8"));
        QCOMPARE(run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"), mixed + QStringLiteral("2"),
                         QStringLiteral("--format"), QStringLiteral("nxd"), QStringLiteral("--quantize"),
                         QStringLiteral("lm_head=vllm-w8a8-int8") })
                     .exitCode,
            2); // NxD cannot load a compressed-tensors scheme, even for one module

        const Run tensor = run(
            { QStringLiteral("convert"), m_demo, QStringLiteral("-o"), m_dir.filePath(QStringLiteral("nxd-tensor")),
                QStringLiteral("--format"), QStringLiteral("nxd"), QStringLiteral("--scheme"),
                QStringLiteral("nxd-int8"), QStringLiteral("--granularity"), QStringLiteral("tensor") });
        QCOMPARE(tensor.exitCode, 0);

        const Run refused = run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"),
            m_dir.filePath(QStringLiteral("never")), QStringLiteral("--format"), QStringLiteral("nxd"),
            QStringLiteral("--scheme"), QStringLiteral("vllm-w8a8-int8") });
        QCOMPARE(refused.exitCode, 2);
        QVERIFY2(
            refused.err.contains(QStringLiteral("cannot be exported for AWS Neuron NxD")), qPrintable(refused.err));
        QVERIFY(!QFile::exists(m_dir.filePath(QStringLiteral("never"))));
        const Run badField
            = run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"), m_dir.filePath(QStringLiteral("never")),
                QStringLiteral("--format"), QStringLiteral("nxd"), QStringLiteral("--bits"), QStringLiteral("9") });
        QCOMPARE(badField.exitCode, 2);
        QVERIFY2(badField.err.contains(QStringLiteral("int bits must be 2 to 8")), qPrintable(badField.err));
    }

    void inspectsQuantizedOutputAndOneTensor()
    {
        const QString out = m_dir.filePath(QStringLiteral("nxd-inspect"));
        QCOMPARE(run({ QStringLiteral("convert"), m_demo, QStringLiteral("-o"), out, QStringLiteral("--format"),
                         QStringLiteral("nxd"), QStringLiteral("--keep"), QStringLiteral("lm_head") })
                     .exitCode,
            0);
        const Run r = run({ QStringLiteral("inspect"), out, QStringLiteral("--json") });
        QCOMPARE(r.exitCode, 0);
        const QJsonObject q
            = QJsonDocument::fromJson(r.out.toUtf8()).object().value(QStringLiteral("quantization")).toObject();
        QCOMPARE(q.value(QStringLiteral("kind")).toString(), QStringLiteral("nxd"));
        QCOMPARE(q.value(QStringLiteral("quantized_weights")).toInt(), 28);

        const Run t = run({ QStringLiteral("inspect"), out, QStringLiteral("--tensor"),
            QStringLiteral("model.layers.1.self_attn.q_proj.weight"), QStringLiteral("--json") });
        QCOMPARE(t.exitCode, 0);
        const QJsonObject tj = QJsonDocument::fromJson(t.out.toUtf8()).object();
        QCOMPARE(tj.value(QStringLiteral("stored_quantization")).toString(), QStringLiteral("nxd"));
        QCOMPARE(tj.value(QStringLiteral("dtype")).toString(), QStringLiteral("I8"));
        QVERIFY(tj.value(QStringLiteral("values")).toObject().value(QStringLiteral("std")).toDouble() > 0);
        QVERIFY(!tj.contains(QStringLiteral("int8_per_channel"))); // already quantized: not quantized again

        const Run f = run({ QStringLiteral("inspect"), m_demo, QStringLiteral("--tensor"),
            QStringLiteral("model.layers.1.self_attn.q_proj.weight") });
        QCOMPARE(f.exitCode, 0);
        QVERIFY2(f.out.contains(QStringLiteral("int8 per-channel: SQNR")), qPrintable(f.out));
        QCOMPARE(
            run({ QStringLiteral("inspect"), m_demo, QStringLiteral("--tensor"), QStringLiteral("nope") }).exitCode, 2);
    }

    // `stats --json`: the contract's fields per tensor, with and without a scheme.
    void usageErrors_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown command") << QStringList { "frobnicate" } << "unknown command 'frobnicate'";
        QTest::newRow("missing format") << QStringList { "convert", "x", "-o", "y" } << "needs --format";
        QTest::newRow("unknown format") << QStringList { "convert", "x", "-o", "y", "--format", "onnx" }
                                        << "unknown --format 'onnx'";
        QTest::newRow("unknown option") << QStringList { "inspect", "x", "--frob" } << "unknown option --frob";
        QTest::newRow("missing value") << QStringList { "convert", "x", "--format" } << "needs a value";
        QTest::newRow("no output") << QStringList { "demo" } << "needs the output folder";
        QTest::newRow("plot kind") << QStringList { "plot", "x", "--tensor", "t", "--kind", "pie", "-o", "a.png" }
                                   << "--kind: 'pie'";
        QTest::newRow("plot suffix") << QStringList { "plot", "x", "--tensor", "t", "--kind", "heatmap", "-o", "a.bmp" }
                                     << "must end in .png, .svg or .pdf";
        QTest::newRow("codes need a scheme")
            << QStringList { "plot", "x", "--tensor", "t", "--kind", "codes", "-o", "a.png" } << "needs --scheme";
        QTest::newRow("stats bins") << QStringList { "stats", "x", "--bins", "0" } << "--bins: '0'";
        QTest::newRow("stats bins text") << QStringList { "stats", "x", "--bins", "12abc" } << "--bins: '12abc'";
        QTest::newRow("plot compare") << QStringList { "plot", "x", "--tensor", "t", "--kind", "heatmap", "-o", "a.png",
            "--compare", "y" } << "goes with --kind histogram";
        QTest::newRow("stats scheme") << QStringList { "stats", "x", "--scheme", "int3" } << "unknown preset 'int3'";
        QTest::newRow("eval data") << QStringList { "eval", "x" } << "needs --data FILE";
        QTest::newRow("eval protocol") << QStringList { "eval", "x", "--data", "d", "--protocol", "sliding" }
                                       << "--protocol: 'sliding'";
        QTest::newRow("eval activations") << QStringList { "eval", "x", "--data", "d", "--activations", "none" }
                                          << "--activations goes with --scheme";
        QTest::newRow("eval seq-len") << QStringList { "eval", "x", "--data", "d", "--seq-len", "1" }
                                      << "--seq-len: '1'";
    }

    void usageErrors()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const Run r = run(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
    }

    void inspectsEveryFormat()
    {
        // A PyTorch file with a tied weight, written by QuantScope's own writer.
        const QString pt = m_dir.filePath(QStringLiteral("tied.pt"));
        {
            const std::vector<float> w(6, 0.5f);
            qs::TorchFileWriter writer(pt.toStdString(),
                { { "embed.weight", qs::DType::F32, { 3, 2 }, {} },
                    { "head.weight", qs::DType::F32, { 3, 2 }, "embed.weight" } });
            writer.write("embed.weight", w.data(), 24);
            writer.finish();
        }
        const Run r = run({ QStringLiteral("inspect"), pt, QStringLiteral("--json") });
        QCOMPARE(r.exitCode, 0);
        const QJsonObject root = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(root.value(QStringLiteral("format")).toString(), QStringLiteral("pytorch-zip"));
        QCOMPARE(root.value(QStringLiteral("parameter_count")).toInt(), 6); // the tied copy counts once
        QCOMPARE(
            root.value(QStringLiteral("tied")).toArray().first().toObject().value(QStringLiteral("tensor")).toString(),
            QStringLiteral("head.weight"));
        QVERIFY(root.value(QStringLiteral("quantization")).isNull());
        const Run text = run({ QStringLiteral("inspect"), pt });
        QVERIFY2(text.out.contains(QStringLiteral("tied:        head.weight shares storage with embed.weight")),
            qPrintable(text.out));

        const QString stories = QStringLiteral(QS_SHARED_MODELS_DIR "/stories260K");
        if (!QFile::exists(stories + QStringLiteral("/stories260K.bin")))
            QSKIP("../shared/models/stories260K is not present");
        const Run s = run({ QStringLiteral("inspect"), stories, QStringLiteral("--json") });
        QCOMPARE(s.exitCode, 0);
        const QJsonObject sj = QJsonDocument::fromJson(s.out.toUtf8()).object();
        QCOMPARE(sj.value(QStringLiteral("format")).toString(), QStringLiteral("llama2c"));
        QCOMPARE(sj.value(QStringLiteral("parameter_count")).toInt(), 260032);
        QVERIFY(sj.value(QStringLiteral("tokenizer")).toString().endsWith(QStringLiteral("tok512.bin")));
        QCOMPARE(sj.value(QStringLiteral("config")).toObject().value(QStringLiteral("model_type")).toString(),
            QStringLiteral("llama"));
    }

    void inputErrorsNameTheFile()
    {
        const QString missing = m_dir.filePath(QStringLiteral("missing"));
        const Run r = run({ QStringLiteral("inspect"), missing });
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(missing) && r.err.contains(QStringLiteral("no such file")), qPrintable(r.err));

        const QString broken = m_dir.filePath(QStringLiteral("broken.safetensors"));
        QFile f(broken);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": nope}     ", 24));
        f.close();
        const Run b = run({ QStringLiteral("convert"), broken, QStringLiteral("-o"),
            m_dir.filePath(QStringLiteral("o")), QStringLiteral("--format"), QStringLiteral("nxd") });
        QCOMPARE(b.exitCode, 1);
        QVERIFY2(b.err.contains(broken) && b.err.contains(QStringLiteral("not valid JSON")), qPrintable(b.err));
        QVERIFY(!QFile::exists(m_dir.filePath(QStringLiteral("o"))));

        const QString evil = m_dir.filePath(QStringLiteral("evil.pt"));
        QFile e(evil);
        QVERIFY(e.open(QIODevice::WriteOnly));
        e.write(QByteArray("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02"
                           "cos\nsystem\n.",
            29));
        e.close();
        const Run x = run({ QStringLiteral("inspect"), evil });
        QCOMPARE(x.exitCode, 1);
        QVERIFY2(x.err.contains(evil) && x.err.contains(QStringLiteral("'os.system'")), qPrintable(x.err));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
