// SPDX-License-Identifier: GPL-3.0-or-later
// GPTQ against an independent plain-PyTorch implementation with llm-compressor's conventions
// (tests/interop/reference_gptq.py, run with Debian's python3-torch): the same scales and the
// same codes (but a handful one step apart) for per-channel and group-128 scales, 4 and 8 bits,
// symmetric and affine, every activation order and the reference's per-group recomputation.
// Plus what the algorithm is for (a lower output error than round-to-nearest on the calibration
// inputs), the Hessian's scale, dead inputs, and the fallback when the Hessian is not positive
// definite.
#include "algo/gptq.h"
#include "error.h"
#include "quant/quant_scheme.h"
#include "quant/scheme_quantizer.h"
#include "runtime_support.h"
#include "test_support.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace qs;
using namespace qs::test;

namespace {

constexpr std::int64_t kRows = 192, kCols = 384, kSequences = 6, kTokens = 64;

struct Case
{
    std::string name;
    int bits;
    bool symmetric;
    int groupSize; // 0: per channel
    GptqActOrder order;
    bool staticGroups = true;
};

QuantScheme schemeOf(const Case& c)
{
    QuantScheme s = *findSchemePreset(c.groupSize > 0 ? "vllm-w4a16" : "vllm-w8a8-int8");
    s.name = c.name;
    s.activations = "none";
    s.bits = c.bits;
    s.symmetric = c.symmetric;
    s.granularity = c.groupSize > 0 ? Granularity::Group : Granularity::Channel;
    s.groupSize = c.groupSize;
    s.validate();
    return s;
}

// Calibration inputs with a few channels far larger than the rest (as after a norm) and one
// input that is always zero (a dead column).
at::Tensor calibrationInputs()
{
    at::manual_seed(7);
    at::Tensor x = at::randn({ kSequences, kTokens, kCols });
    x.select(2, 5).mul_(12);
    x.select(2, 77).mul_(6);
    x.select(2, 300).zero_();
    return x;
}

at::Tensor hessianOf(const at::Tensor& x)
{
    HessianAccumulator h(kCols);
    for (std::int64_t s = 0; s < x.size(0); ++s)
        h.add(x[s]);
    return h.hessian();
}

double outputError(const at::Tensor& quantized, const at::Tensor& w, const at::Tensor& x)
{
    return at::matmul(x.reshape({ -1, kCols }), (quantized - w).t()).pow(2).sum().item<double>();
}

} // namespace

class TestGptq : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void matchesTheReference()
    {
        at::manual_seed(3);
        const at::Tensor w = at::randn({ kRows, kCols }) * 0.05;
        const at::Tensor x = calibrationInputs();
        const at::Tensor h = hessianOf(x);
        const std::vector<Case> cases = {
            { "int8_channel_static", 8, true, 0, GptqActOrder::Static },
            { "int8_channel_none", 8, true, 0, GptqActOrder::None },
            { "int4_channel_static", 4, true, 0, GptqActOrder::Static },
            { "int4_g128_static", 4, true, 128, GptqActOrder::Static },
            { "int4_g128_group", 4, true, 128, GptqActOrder::Group },
            { "int4_g128_none_affine", 4, false, 128, GptqActOrder::None },
            { "int8_g128_static_affine", 8, false, 128, GptqActOrder::Static },
            { "int4_g128_reference_groups", 4, true, 128, GptqActOrder::None, false },
        };
        std::vector<test::RawTensor> tensors
            = { test::f32Tensor("weight", shapeOf(w), values(w)), test::f32Tensor("inputs", shapeOf(x), values(x)) };
        nlohmann::json list = nlohmann::json::array();
        for (const Case& c : cases) {
            GptqOptions o;
            o.actOrder = c.order;
            o.staticGroups = c.staticGroups;
            const QuantScheme s = schemeOf(c);
            const GptqResult r = gptqQuantize(w, h, s, o);
            QVERIFY2(!r.roundToNearest, r.warning.c_str());
            QVERIFY(r.loss > 0);
            QCOMPARE(r.groupIndex.defined(), c.order == GptqActOrder::Group);
            // What GPTQ is for: less output error on the calibration inputs than rounding.
            const at::Tensor rtn = dequantizeScheme(quantizeWithScheme(w, s)).reshape(w.sizes());
            const double gptqError = outputError(r.weight, w, x), rtnError = outputError(rtn, w, x);
            QVERIFY2(gptqError < 0.8 * rtnError,
                qPrintable(QString("%1: GPTQ %2 against RTN %3").arg(c.name.c_str()).arg(gptqError).arg(rtnError)));
            // The codes and scales describe the weight exactly.
            const at::Tensor unit = r.groupIndex.defined() ? r.groupIndex.to(at::kLong)
                : c.groupSize > 0 ? at::div(at::arange(kCols, at::kLong), c.groupSize, "floor")
                                  : at::zeros({ kCols }, at::kLong);
            const at::Tensor scale = r.quantized.scale.reshape({ kRows, -1 }).index_select(1, unit);
            const at::Tensor zero = r.quantized.zeroPoint.defined()
                ? r.quantized.zeroPoint.reshape({ kRows, -1 }).index_select(1, unit)
                : at::zeros_like(scale);
            QVERIFY(at::allclose((r.quantized.codes.to(at::kFloat) - zero) * scale, r.weight, 0, 1e-7));
            QCOMPARE(r.weight.select(1, 300).abs().max().item<float>(), 0.0F); // the dead input
            tensors.push_back(test::f32Tensor(c.name + ".weight", shapeOf(r.weight), values(r.weight)));
            tensors.push_back(test::f32Tensor(c.name + ".codes", shapeOf(r.quantized.codes), values(r.quantized.codes)));
            tensors.push_back(test::f32Tensor(c.name + ".scale", shapeOf(r.quantized.scale), values(r.quantized.scale)));
            list.push_back({ { "name", c.name }, { "bits", c.bits }, { "symmetric", c.symmetric },
                { "group_size", c.groupSize }, { "actorder", gptqActOrderName(c.order) },
                { "static_groups", c.staticGroups } });
        }
        QTemporaryDir dir;
        const std::string file = dir.filePath("gptq.safetensors").toStdString();
        test::writeSafetensors(file, tensors);
        std::ofstream(dir.filePath("cases.json").toStdString()) << list.dump();
        QProcess p;
        p.start(QStringLiteral(QS_PYTHON),
            { QStringLiteral(QS_TESTS_DIR "/interop/reference_gptq.py"), QString::fromStdString(file),
                dir.filePath("cases.json") });
        QVERIFY(p.waitForFinished(240000));
        const QString out = QString::fromUtf8(p.readAllStandardOutput()) + QString::fromUtf8(p.readAllStandardError());
        qInfo("%s", qPrintable(out.trimmed()));
        QVERIFY2(p.exitCode() == 0 && out.contains(QStringLiteral("OK")), qPrintable(out));
    }

    void hessianIsTwiceTheMeanOverSequences()
    {
        HessianAccumulator h(3);
        h.add(at::tensor({ 1.0F, 2.0F, 0.0F }).reshape({ 1, 3 }));
        h.add(at::tensor({ 0.0F, 1.0F, 1.0F, 2.0F, 0.0F, 0.0F }).reshape({ 2, 3 }));
        const at::Tensor expected = at::tensor({ 5.0F, 2.0F, 0.0F, 2.0F, 5.0F, 1.0F, 0.0F, 1.0F, 1.0F }).reshape({ 3, 3 });
        QVERIFY(at::allclose(h.hessian(), expected)); // 2/2 * (x1 x1^T + both rows of x2)
        QVERIFY_THROWS_EXCEPTION(UsageError, HessianAccumulator(4).hessian());
    }

    void notPositiveDefiniteFallsBackToRounding()
    {
        at::manual_seed(5);
        const at::Tensor w = at::randn({ 16, 8 });
        const at::Tensor h = at::diag(at::tensor({ 1.0F, 1.0F, 1.0F, 1.0F, 1.0F, 1.0F, 1.0F, -50.0F }));
        const QuantScheme s = schemeOf({ "int8", 8, true, 0, GptqActOrder::None });
        GptqOptions o;
        o.actOrder = GptqActOrder::None;
        const GptqResult r = gptqQuantize(w, h, s, o);
        QVERIFY(r.roundToNearest);
        QVERIFY(r.warning.find("not positive definite") != std::string::npos);
        QVERIFY(at::equal(r.weight, dequantizeScheme(quantizeWithScheme(w, s)).reshape(w.sizes())));
        // GPTQModel's recovery: growing the dampening until H factors.
        const at::Tensor nearly = at::diag(at::tensor({ 1.0F, 1.0F, 1.0F, 1.0F, 1.0F, 1.0F, 1.0F, -0.05F }));
        o.dampeningIncrement = 0.01;
        const GptqResult retried = gptqQuantize(w, nearly, s, o);
        QVERIFY(!retried.roundToNearest);
        QVERIFY(retried.dampening > 0.01);
        QVERIFY_THROWS_EXCEPTION(UsageError, gptqQuantize(w, at::eye(7), s, o));
        QuantScheme fp8 = *findSchemePreset("vllm-fp8-dynamic");
        QVERIFY_THROWS_EXCEPTION(UsageError, gptqQuantize(w, at::eye(8), fp8, o));
    }
};

QTEST_GUILESS_MAIN(TestGptq)
#include "tst_gptq.moc"
