// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli suggest` as a user runs it: the JSON contract, the written keep list read back by
// `eval --keep-file` (the same perplexity as the verification) and `convert --keep-file` (its ignore
// list and its bytes are what suggest counted), a size budget with several candidate schemes
// converted as a mixed-precision checkpoint of exactly the predicted size, NxD's and the AIU's keep
// lists (converted: the counted bytes), stories260K checked by a separate eval, and the usage errors.
#include "cli_runner.h"
#include "generated_models.h"
#include "io/checkpoint.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace {

QJsonObject json(const CliRun& r)
{
    return QJsonDocument::fromJson(r.out.toUtf8()).object();
}

QStringList strings(const QJsonArray& a)
{
    QStringList out;
    for (const auto& v : a)
        out << v.toString();
    return out;
}

// The bytes of every tensor a converted folder holds.
double tensorBytes(const QString& folder)
{
    const qs::Checkpoint c = qs::Checkpoint::open(folder.toStdString());
    double total = 0;
    for (const qs::TensorInfo& t : c.tensors())
        total += static_cast<double>(t.bytes);
    return total;
}

} // namespace

class TestCliSuggest : public CliTest
{
    Q_OBJECT

    QString m_model, m_data;

    QStringList suggestArgs(const QStringList& more)
    {
        return QStringList { QStringLiteral("suggest"), m_model, QStringLiteral("--data"), m_data,
                   QStringLiteral("--seq-len"), QStringLiteral("64"), QStringLiteral("--json") }
            + more;
    }

private Q_SLOTS:
    void initTestCase()
    {
        qs::test::GeneratedModel m("llama", 3);
        m.bf16 = true;
        m.spiked = { "model.layers.1.mlp.down_proj.weight" };
        m_model = m_dir.filePath(QStringLiteral("llama"));
        qs::test::writeGeneratedModel(m_model.toStdString(), m);
        std::vector<std::int64_t> ids;
        for (int i = 0; i < 900; ++i)
            ids.push_back((i * 53 + 7 + (i / 13) * 5) % m.vocab);
        m_data = m_dir.filePath(QStringLiteral("ids.json"));
        std::ofstream(m_data.toStdString()) << nlohmann::json(ids).dump();
    }

    void perplexityBudgetKeepListRoundTrips()
    {
        // Half of what quantizing everything would cost, as the curve's first point predicts it.
        const CliRun loose = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"),
            QStringLiteral("--max-ppl-increase"), QStringLiteral("100") }));
        QVERIFY2(loose.exitCode == 0, qPrintable(loose.err));
        const QJsonObject lj = json(loose);
        const double all = lj.value(QStringLiteral("curve")).toArray()[0].toObject().value(QStringLiteral("perplexity")).toDouble()
            / lj.value(QStringLiteral("verified")).toObject().value(QStringLiteral("perplexity_float")).toDouble() - 1;
        QVERIFY(all > 0);
        const double budget = all / 2;
        const QString keepFile = m_dir.filePath(QStringLiteral("keep.txt"));
        const CliRun r = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"),
            QStringLiteral("--max-ppl-increase"), QString::number(100 * budget) + QStringLiteral("%"),
            QStringLiteral("--write"), QStringLiteral("text"), QStringLiteral("-o"), keepFile }));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject j = json(r);
        for (const char* key : { "keep", "schemes", "predicted", "verified", "curve", "sensitivity" })
            QVERIFY2(j.contains(QLatin1String(key)), key);
        const QJsonObject verified = j.value(QStringLiteral("verified")).toObject();
        for (const char* key : { "perplexity", "perplexity_float", "perplexity_change", "kl_divergence", "bytes" })
            QVERIFY2(verified.contains(QLatin1String(key)), key);
        QVERIFY(verified.value(QStringLiteral("perplexity_change")).toDouble() <= budget * (1 + 1e-6));
        QVERIFY(verified.value(QStringLiteral("meets_budget")).toBool());
        const QStringList keep = strings(j.value(QStringLiteral("keep")).toArray());
        QVERIFY(keep.contains(QStringLiteral("model.layers.1.mlp.down_proj")));
        QVERIFY(keep.contains(QStringLiteral("lm_head")));
        QVERIFY(keep.size() < 3 * 7 + 1);
        const QJsonArray sensitivity = j.value(QStringLiteral("sensitivity")).toArray();
        QCOMPARE(sensitivity.size(), 3 * 7);
        QCOMPARE(sensitivity[0].toObject().value(QStringLiteral("name")).toString(),
            QStringLiteral("model.layers.1.mlp.down_proj"));
        for (const char* key : { "name", "delta_loss", "kl" })
            QVERIFY(sensitivity[0].toObject().contains(QLatin1String(key)));
        const QJsonArray curve = j.value(QStringLiteral("curve")).toArray();
        QVERIFY(curve.size() > 2);
        for (const char* key : { "kept", "bytes", "perplexity" })
            QVERIFY(curve[0].toObject().contains(QLatin1String(key)));

        // A separate evaluation of the written list: the verification's figures.
        const CliRun e = run({ QStringLiteral("eval"), m_model, QStringLiteral("--data"), m_data,
            QStringLiteral("--seq-len"), QStringLiteral("64"), QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"),
            QStringLiteral("--keep-file"), keepFile, QStringLiteral("--json") });
        QVERIFY2(e.exitCode == 0, qPrintable(e.err));
        const QJsonObject ej = json(e);
        QCOMPARE(ej.value(QStringLiteral("perplexity")).toDouble(), verified.value(QStringLiteral("perplexity")).toDouble());
        QCOMPARE(ej.value(QStringLiteral("quantized_modules")).toInt(), 3 * 7 + 1 - keep.size());

        // The conversion of the list: its ignore list, and the bytes suggest counted.
        const QString out = m_dir.filePath(QStringLiteral("ct"));
        const CliRun c = run({ QStringLiteral("convert"), m_model, QStringLiteral("-o"), out, QStringLiteral("--format"),
            QStringLiteral("compressed-tensors"), QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"),
            QStringLiteral("--keep-file"), keepFile });
        QVERIFY2(c.exitCode == 0, qPrintable(c.err));
        QFile config(out + QStringLiteral("/config.json"));
        QVERIFY(config.open(QIODevice::ReadOnly));
        const QJsonObject q = QJsonDocument::fromJson(config.readAll()).object().value(QStringLiteral("quantization_config")).toObject();
        QStringList ignore = strings(q.value(QStringLiteral("ignore")).toArray()), sorted = keep;
        ignore.sort();
        sorted.sort();
        QCOMPARE(ignore, sorted);
        QCOMPARE(tensorBytes(out), verified.value(QStringLiteral("bytes")).toDouble());
    }

    // A size budget with int8 and int4 candidates: the schemes per module, converted as a
    // mixed-precision checkpoint whose tensors take exactly the predicted bytes, within the budget.
    void sizeBudgetWithCandidatesConvertsMixed()
    {
        const CliRun r = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"),
            QStringLiteral("--candidates"), QStringLiteral("vllm-w8a16"), QStringLiteral("--max-size"),
            QStringLiteral("100K") }));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject j = json(r);
        const double bytes = j.value(QStringLiteral("verified")).toObject().value(QStringLiteral("bytes")).toDouble();
        QVERIFY(bytes <= 100 * 1024);
        const QJsonObject schemes = j.value(QStringLiteral("schemes")).toObject();
        QStringList args { QStringLiteral("convert"), m_model, QStringLiteral("-o"), m_dir.filePath(QStringLiteral("mixed")),
            QStringLiteral("--format"), QStringLiteral("compressed-tensors"), QStringLiteral("--scheme"),
            QStringLiteral("vllm-w4a16") };
        int int8 = 0;
        for (const QString& module : schemes.keys()) {
            if (schemes.value(module).toString() == QStringLiteral("vllm-w8a16")) {
                args << QStringLiteral("--quantize") << module.mid(6) + QStringLiteral("=vllm-w8a16");
                ++int8;
            }
        }
        QVERIFY2(int8 > 0, "a 100K budget leaves room for int8 modules");
        for (const auto& k : j.value(QStringLiteral("keep")).toArray())
            args << QStringLiteral("--keep-regex") << k.toString() + QStringLiteral("$");
        const CliRun c = run(args);
        QVERIFY2(c.exitCode == 0, qPrintable(c.err));
        QCOMPARE(tensorBytes(m_dir.filePath(QStringLiteral("mixed"))), bytes);
        // Too small: the smallest choice is named.
        const CliRun tiny = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"),
            QStringLiteral("--max-size"), QStringLiteral("1K") }));
        QVERIFY(tiny.exitCode != 0);
        QVERIFY2(tiny.err.contains(QStringLiteral("below the smallest choice")), qPrintable(tiny.err));
    }

    // NxD: the keep list in NxD's own names, and convert --format nxd of it has suggest's bytes.
    void nxdKeepList()
    {
        const QString keepFile = m_dir.filePath(QStringLiteral("modules_to_not_convert.json"));
        const CliRun r = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("nxd-int8"),
            QStringLiteral("--max-kl"), QStringLiteral("0.0005"), QStringLiteral("--write"), QStringLiteral("nxd-json"),
            QStringLiteral("-o"), keepFile }));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject j = json(r);
        QVERIFY(j.value(QStringLiteral("verified")).toObject().value(QStringLiteral("kl_divergence")).toDouble() <= 0.0005);
        QFile f(keepFile);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList names = strings(
            QJsonDocument::fromJson(f.readAll()).object().value(QStringLiteral("modules_to_not_convert")).toArray());
        QVERIFY(!names.isEmpty());
        for (const QString& n : names)
            QVERIFY2(!n.startsWith(QStringLiteral("model.")), qPrintable(n));
        const QString out = m_dir.filePath(QStringLiteral("nxd"));
        const CliRun c = run({ QStringLiteral("convert"), m_model, QStringLiteral("-o"), out, QStringLiteral("--format"),
            QStringLiteral("nxd"), QStringLiteral("--scheme"), QStringLiteral("nxd-int8"), QStringLiteral("--keep-file"),
            keepFile });
        QVERIFY2(c.exitCode == 0, qPrintable(c.err));
        QCOMPARE(tensorBytes(out), j.value(QStringLiteral("verified")).toObject().value(QStringLiteral("bytes")).toDouble());
    }

    // The AIU: fms-mo's qskip_layer_name list, converted: the bytes suggest counted (float16 for
    // everything not quantized).
    void aiuQskipList()
    {
        const QString keepFile = m_dir.filePath(QStringLiteral("qcfg.json"));
        const CliRun r = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("aiu-int8"),
            QStringLiteral("--max-kl"), QStringLiteral("0.0005"), QStringLiteral("--write"), QStringLiteral("fms-mo"),
            QStringLiteral("-o"), keepFile }));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject j = json(r);
        const QString out = m_dir.filePath(QStringLiteral("aiu"));
        const CliRun c = run({ QStringLiteral("convert"), m_model, QStringLiteral("-o"), out, QStringLiteral("--format"),
            QStringLiteral("aiu"), QStringLiteral("--scheme"), QStringLiteral("aiu-int8"), QStringLiteral("--keep-file"),
            keepFile });
        QVERIFY2(c.exitCode == 0, qPrintable(c.err));
        QCOMPARE(tensorBytes(out + QStringLiteral("/qmodel_for_aiu.pt")),
            j.value(QStringLiteral("verified")).toObject().value(QStringLiteral("bytes")).toDouble());
    }

    // stories260K (a real trained model): the verified figures meet the budget, with fewer kept
    // modules than all, and a separate eval of the written list gives them again.
    void storiesVerifiedBySeparateEval()
    {
        const QString stories = QStringLiteral(QS_SHARED_MODELS_DIR) + QStringLiteral("/stories260K");
        const QString keepFile = m_dir.filePath(QStringLiteral("stories-keep.txt"));
        const QStringList data { QStringLiteral("--data"), stories + QStringLiteral("/tinystories_valid_sample10.txt"),
            QStringLiteral("--seq-len"), QStringLiteral("128"), QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16") };
        const CliRun r = run(QStringList { QStringLiteral("suggest"), stories + QStringLiteral("/stories260K.bin") } + data
            + QStringList { QStringLiteral("--max-ppl-increase"), QStringLiteral("3"), QStringLiteral("--write"),
                QStringLiteral("text"), QStringLiteral("-o"), keepFile, QStringLiteral("--json") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject verified = json(r).value(QStringLiteral("verified")).toObject();
        QVERIFY(verified.value(QStringLiteral("perplexity_change")).toDouble() <= 0.03);
        const int kept = json(r).value(QStringLiteral("keep")).toArray().size();
        QVERIFY(kept > 0 && kept < 35);
        const CliRun e = run(QStringList { QStringLiteral("eval"), stories + QStringLiteral("/stories260K.bin") } + data
            + QStringList { QStringLiteral("--keep-file"), keepFile, QStringLiteral("--json") });
        QVERIFY2(e.exitCode == 0, qPrintable(e.err));
        QCOMPARE(json(e).value(QStringLiteral("perplexity")).toDouble(), verified.value(QStringLiteral("perplexity")).toDouble());
        QVERIFY(json(e).value(QStringLiteral("perplexity_change")).toDouble() <= 0.03);
    }

    void usageErrors()
    {
        const CliRun two = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"),
            QStringLiteral("--max-kl"), QStringLiteral("1"), QStringLiteral("--max-size"), QStringLiteral("1G") }));
        QCOMPARE(two.exitCode, 2);
        QVERIFY(two.err.contains(QStringLiteral("exactly one budget")));
        const CliRun none = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16") }));
        QCOMPARE(none.exitCode, 2);
        const CliRun bad = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("vllm-w4a16"),
            QStringLiteral("--max-ppl-increase"), QStringLiteral("lots") }));
        QCOMPARE(bad.exitCode, 2);
        QVERIFY(bad.err.contains(QStringLiteral("--max-ppl-increase")));
        const CliRun mixedNxd = run(suggestArgs({ QStringLiteral("--scheme"), QStringLiteral("nxd-int8"),
            QStringLiteral("--candidates"), QStringLiteral("nxd-fp8"), QStringLiteral("--max-kl"), QStringLiteral("1") }));
        QCOMPARE(mixedNxd.exitCode, 2);
        QVERIFY2(mixedNxd.err.contains(QStringLiteral("one scheme")), qPrintable(mixedNxd.err));
    }
};

QTEST_GUILESS_MAIN(TestCliSuggest)
#include "tst_cli_suggest.moc"
