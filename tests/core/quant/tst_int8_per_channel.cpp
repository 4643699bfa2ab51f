// SPDX-License-Identifier: GPL-3.0-or-later
// NxD per-channel int8: scale = max(absmax/127, FLT_EPSILON), round half to even, clamp to
// [-128, 127], checked against hand-computed tables.
#include "error.h"
#include "quant/int8_per_channel.h"
#include "test_support.h"

#include <QTest>

#include <ATen/ATen.h>

#include <cfloat>
#include <cmath>

using namespace qs;

Q_DECLARE_METATYPE(std::vector<float>)
Q_DECLARE_METATYPE(std::vector<int>)

namespace {

at::Tensor row(const std::vector<float>& values)
{
    return at::from_blob(const_cast<float*>(values.data()), { 1, static_cast<std::int64_t>(values.size()) },
        at::TensorOptions().dtype(at::kFloat))
        .clone();
}

std::vector<int> codesOf(const at::Tensor& codes)
{
    std::vector<int> out;
    const auto flat = codes.contiguous().view(-1);
    for (std::int64_t i = 0; i < flat.numel(); ++i)
        out.push_back(flat[i].item<int>());
    return out;
}

} // namespace

class TestInt8PerChannel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void handTable_data()
    {
        QTest::addColumn<std::vector<float>>("input");
        QTest::addColumn<float>("scale");
        QTest::addColumn<std::vector<int>>("codes");
        // absmax 127 -> scale exactly 1: the codes are the inputs rounded half to even.
        QTest::newRow("ties to even, scale 1") << std::vector<float> { 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 126.5f, -127.0f,
            127.0f } << 1.0f << std::vector<int> { 0, 2, 2, 0, -2, 126, -127, 127 };
        // absmax 254 -> scale 2: 3 -> 1.5 -> 2, 5 -> 2.5 -> 2, 7 -> 3.5 -> 4.
        QTest::newRow("ties to even, scale 2")
            << std::vector<float> { 3.0f, 5.0f, 7.0f, -254.0f, 1.0f } << 2.0f << std::vector<int> { 2, 2, 4, -127, 0 };
        QTest::newRow("all negative") << std::vector<float> { -12.7f, -6.35f, -0.0f } << 0.1f
                                      << std::vector<int> { -127, -64, 0 };
        QTest::newRow("zero row: epsilon scale")
            << std::vector<float> { 0.0f, 0.0f, -0.0f } << FLT_EPSILON << std::vector<int> { 0, 0, 0 };
        QTest::newRow("tiny row: epsilon floor")
            << std::vector<float> { 1e-10f, -1e-10f } << FLT_EPSILON << std::vector<int> { 0, 0 };
        QTest::newRow("single element") << std::vector<float> { -3.0f } << 3.0f / 127.0f << std::vector<int> { -127 };
    }

    void handTable()
    {
        QFETCH(std::vector<float>, input);
        QFETCH(float, scale);
        QFETCH(std::vector<int>, codes);
        const QuantizedTensor q = quantizeInt8PerChannelNxd(row(input));
        QCOMPARE(q.codes.scalar_type(), at::kChar);
        QCOMPARE(q.scale.scalar_type(), at::kFloat);
        QCOMPARE(q.scale.sizes().vec(), (std::vector<std::int64_t> { 1, 1 }));
        QCOMPARE(q.scale.item<float>(), scale);
        QCOMPARE(codesOf(q.codes), codes);
    }

    void rowsAreIndependent()
    {
        const std::vector<float> v = { 127.0f, 0.5f, 1.0f, 0.25f, 0.0f, 0.0f };
        const at::Tensor w = at::from_blob(const_cast<float*>(v.data()), { 3, 2 }, at::kFloat).clone();
        const QuantizedTensor q = quantizeInt8PerChannelNxd(w);
        QCOMPARE(q.scale.sizes().vec(), (std::vector<std::int64_t> { 3, 1 }));
        QCOMPARE(q.scale[0].item<float>(), 1.0f);
        QCOMPARE(q.scale[1].item<float>(), 1.0f / 127.0f);
        QCOMPARE(q.scale[2].item<float>(), FLT_EPSILON);
        QCOMPARE(codesOf(q.codes), (std::vector<int> { 127, 0, 127, 32, 0, 0 }));
    }

    void bf16AndHalfMatchFloat()
    {
        const auto v = test::randomNormal(64 * 96, 7);
        const at::Tensor f
            = at::from_blob(const_cast<float*>(v.data()), { 64, 96 }, at::kFloat).to(at::kBFloat16).to(at::kFloat);
        const auto ref = quantizeInt8PerChannelNxd(f);
        const auto viaBf16 = quantizeInt8PerChannelNxd(f.to(at::kBFloat16));
        QVERIFY(at::equal(ref.codes, viaBf16.codes));
        QVERIFY(at::equal(ref.scale, viaBf16.scale));
        const at::Tensor h = f.to(at::kHalf);
        const auto viaHalf = quantizeInt8PerChannelNxd(h);
        const auto refHalf = quantizeInt8PerChannelNxd(h.to(at::kFloat));
        QVERIFY(at::equal(refHalf.codes, viaHalf.codes));
    }

    void higherRankFlattensRows()
    {
        const auto v = test::randomNormal(4 * 3 * 5, 3);
        const at::Tensor w = at::from_blob(const_cast<float*>(v.data()), { 4, 3, 5 }, at::kFloat).clone();
        const auto q3 = quantizeInt8PerChannelNxd(w);
        const auto q2 = quantizeInt8PerChannelNxd(w.reshape({ 4, 15 }));
        QCOMPARE(q3.codes.sizes().vec(), (std::vector<std::int64_t> { 4, 3, 5 }));
        QVERIFY(at::equal(q3.codes.reshape({ 4, 15 }), q2.codes));
        QCOMPARE(q3.scale.sizes().vec(), (std::vector<std::int64_t> { 4, 1 }));
    }

    void dequantizeWithinHalfAStep()
    {
        const auto v = test::randomNormal(128 * 200, 11);
        const at::Tensor w = at::from_blob(const_cast<float*>(v.data()), { 128, 200 }, at::kFloat).clone();
        ErrorMetrics m;
        const auto q = quantizeInt8PerChannelNxd(w, &m);
        const at::Tensor deq = dequantizeInt8PerChannel(q);
        const at::Tensor err = (deq - w).abs();
        QVERIFY(at::all(err <= q.scale * 0.5001f).item<bool>());
        QCOMPARE(m.count, std::int64_t(128 * 200));
        const double mse = (deq - w).to(at::kDouble).pow(2).mean().item<double>();
        QVERIFY(std::abs(m.mse - mse) < 1e-6 * mse);
        QVERIFY(std::abs(m.maxAbsError - err.max().item<double>()) < 1e-7);
        QVERIFY2(m.sqnrDb > 30 && m.sqnrDb < 50, qPrintable(QString::number(m.sqnrDb)));
    }

    void metricsByHand()
    {
        ErrorMetrics m;
        quantizeInt8PerChannelNxd(row({ 127.0f, 0.5f }), &m); // dequantized: 127, 0
        QCOMPARE(m.count, std::int64_t(2));
        QCOMPARE(m.mse, 0.125);
        QCOMPARE(m.maxAbsError, 0.5);
        QVERIFY(std::abs(m.sqnrDb - 10.0 * std::log10((127.0 * 127.0 + 0.25) / 0.25)) < 1e-9);
        quantizeInt8PerChannelNxd(row({ 1.0f, -1.0f }), &m);
        QVERIFY(std::isinf(m.sqnrDb) && m.sqnrDb > 0); // exact: no error at all
    }

    void nonFiniteIsAnError()
    {
        const float nan = std::nanf("");
        const std::vector<float> v = { 1.0f, 2.0f, 3.0f, nan };
        const at::Tensor w = at::from_blob(const_cast<float*>(v.data()), { 2, 2 }, at::kFloat).clone();
        try {
            quantizeInt8PerChannelNxd(w);
            QFAIL("NaN must not produce a scale");
        } catch (const FormatError& e) {
            QVERIFY2(std::string(e.what()).find("row 1") != std::string::npos, e.what());
        }
        QVERIFY_THROWS_EXCEPTION(FormatError, quantizeInt8PerChannelNxd(row({ INFINITY, 1.0f })));
        QVERIFY_THROWS_EXCEPTION(UsageError, quantizeInt8PerChannelNxd(at::ones({ 2, 2 }, at::kInt)));
        QVERIFY_THROWS_EXCEPTION(UsageError, quantizeInt8PerChannelNxd(at::scalar_tensor(1.0)));
    }
};

QTEST_GUILESS_MAIN(TestInt8PerChannel)
#include "tst_int8_per_channel.moc"
