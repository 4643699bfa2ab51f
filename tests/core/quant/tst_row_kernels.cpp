// SPDX-License-Identifier: GPL-3.0-or-later
// The vectorised row kernels: every instruction-set build this CPU runs gives exactly the codes
// of the scalar reference (scheme_math.h), its conversions equal c10's, its sums agree with
// double precision, and the quantizer stops within milliseconds when cancelled.
#include "error.h"
#include "quant/fp8.h"
#include "quant/kernels/float_rounding.h"
#include "quant/kernels/row_kernels.h"
#include "quant/quant_scheme.h"
#include "quant/scheme_math.h"
#include "jobs/progress.h"
#include "quant/scheme_quantizer.h"

#include <QTest>

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

using namespace qs;
using namespace qs::kernels;

namespace {

std::vector<const Table*> tables()
{
    const Table* t[8];
    const int n = availableTables(t, 8);
    return std::vector<const Table*>(t, t + n);
}

// Gaussian values with the awkward ones mixed in: exact ties, zeros, denormals, huge and tiny
// magnitudes, values far outside the code range.
std::vector<float> awkwardValues(std::size_t n, unsigned seed)
{
    std::mt19937 gen(seed);
    std::normal_distribution<float> normal;
    std::vector<float> v(n);
    for (auto& x : v)
        x = normal(gen);
    const float specials[] = { 0.0f, -0.0f, 1e-40f, -1e-42f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 127.5f, -127.5f, 3e38f,
        -3e38f, 1e-30f, 1e20f, 65519.0f, 65520.0f };
    for (std::size_t i = 0; i < n; i += 7)
        v[i] = specials[(i / 7) % (sizeof specials / sizeof specials[0])];
    return v;
}

} // namespace

class TestRowKernels : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void bestTableIsAvailable()
    {
        const auto all = tables();
        QVERIFY(!all.empty());
        QCOMPARE(QString(all.front()->isa), QStringLiteral("generic"));
        qInfo("kernels: %s (of %d built for this CPU)", best().isa, static_cast<int>(all.size()));
    }

    // float <-> bf16 / fp16 exactly as c10 converts: all 65536 half patterns, and the rounding
    // of floats (ties, subnormals, overflow) to both.
    void conversionsMatchC10()
    {
        std::vector<std::uint16_t> all(65536);
        for (std::size_t i = 0; i < all.size(); ++i)
            all[i] = static_cast<std::uint16_t>(i);
        std::vector<float> out(all.size());
        for (const Table* t : tables()) {
            const float* f = t->toFloat(InputType::F16, all.data(), static_cast<std::int64_t>(all.size()), out.data());
            for (std::size_t i = 0; i < all.size(); ++i) {
                c10::Half h;
                h.x = all[i];
                const float expected = static_cast<float>(h);
                QVERIFY2(std::memcmp(&expected, &f[i], 4) == 0 || (std::isnan(expected) && std::isnan(f[i])),
                    qPrintable(QStringLiteral("%1: half 0x%2").arg(t->isa).arg(i, 4, 16)));
            }
            f = t->toFloat(InputType::BF16, all.data(), static_cast<std::int64_t>(all.size()), out.data());
            for (std::size_t i = 0; i < all.size(); ++i) {
                const float expected = static_cast<float>(c10::BFloat16(all[i], c10::BFloat16::from_bits()));
                QVERIFY(std::memcmp(&expected, &f[i], 4) == 0 || (std::isnan(expected) && std::isnan(f[i])));
            }
        }
        std::mt19937 gen(3);
        std::uniform_int_distribution<std::uint32_t> bits;
        for (int i = 0; i < 200000; ++i) {
            const float x = bitsToFloat(bits(gen));
            if (!std::isfinite(x))
                continue;
            QCOMPARE(roundToBf16(x), static_cast<float>(c10::BFloat16(x)));
            const float h = static_cast<float>(c10::Half(x));
            QVERIFY2(roundToF16(x) == h, qPrintable(QString::number(static_cast<double>(x), 'g', 9)));
        }
        for (float x : { 0.5f, 1.5f, 65504.0f, 65519.99f, 65520.0f, 6.0e-8f, 2.98e-8f, 1.0f + 1.0f / 2048 })
            QCOMPARE(roundToF16(x), static_cast<float>(c10::Half(x)));
    }

    // Every rule and quotient rounding: the codes of each table equal the scalar reference,
    // element for element, and the clipped counts agree.
    void codesEqualTheScalarReference()
    {
        const auto x = awkwardValues(1031, 7); // odd length: vector body plus a tail
        struct Case
        {
            const char* preset;
            QuotientRounding rounding;
            IntRule rule;
        };
        const Case cases[] = {
            { "nxd-int8", QuotientRounding::None, IntRule::Nxd },
            { "vllm-w8a8-int8", QuotientRounding::None, IntRule::CompressedTensors },
            { "vllm-w8a8-int8", QuotientRounding::BF16, IntRule::CompressedTensors },
            { "vllm-w8a8-int8", QuotientRounding::F16, IntRule::CompressedTensors },
            { "vllm-w4a16", QuotientRounding::BF16, IntRule::CompressedTensors },
            { "aiu-int8", QuotientRounding::None, IntRule::FmsMo },
            { "nanogpt-symmetric", QuotientRounding::None, IntRule::NanoGpt },
            { "nanogpt-affine", QuotientRounding::None, IntRule::NanoGpt },
            { "nanogpt-ternary", QuotientRounding::None, IntRule::NanoGpt },
        };
        for (const Case& c : cases) {
            QuantScheme s = *findSchemePreset(c.preset);
            for (float unitMax : { 1.0f, 3.0f, 1e-3f, 200.0f }) { // scales that put values past the range
                UnitStats st;
                st.min = -unitMax;
                st.max = unitMax * 0.75f;
                st.absMax = unitMax;
                st.sumAbs = unitMax * 0.5 * static_cast<double>(x.size());
                st.count = static_cast<std::int64_t>(x.size());
                UnitParams p = unitParams(s, st, c.rounding);
                p.quotientRounding = c.rounding;
                std::vector<std::int8_t> expected(x.size());
                std::int64_t expectedClipped = 0;
                for (std::size_t i = 0; i < x.size(); ++i) {
                    const QuantizedValue v = quantizeValue(s, p, x[i], i);
                    expected[i] = static_cast<std::int8_t>(v.code);
                    expectedClipped += v.clipped;
                }
                const IntUnit u { p.scale, p.inverse, p.zeroPoint, p.multiplier, p.qmin, p.qmax };
                for (const Table* t : tables()) {
                    std::vector<std::int8_t> got(x.size());
                    const std::int64_t clipped = t->quantizeInt(
                        c.rule, c.rounding, u, x.data(), static_cast<std::int64_t>(x.size()), got.data());
                    std::int64_t differ = 0;
                    for (std::size_t i = 0; i < x.size(); ++i)
                        differ += got[i] != expected[i];
                    QVERIFY2(differ == 0 && clipped == expectedClipped,
                        qPrintable(QStringLiteral("%1 %2 rounding %3 max %4: %5 codes differ, clipped %6 vs %7")
                                       .arg(t->isa, c.preset)
                                       .arg(static_cast<int>(c.rounding))
                                       .arg(static_cast<double>(unitMax))
                                       .arg(differ)
                                       .arg(clipped)
                                       .arg(expectedClipped)));
                }
            }
        }
    }

    // fp8 e4m3 (448 and Neuron's 240) and e5m2: every table's codes and decoded values equal
    // the scalar reference (floatToFp8 by table search, ties to even), signed zeros included.
    void fp8CodesEqualTheScalarReference()
    {
        auto x = awkwardValues(2053, 9);
        std::mt19937 gen(4);
        std::uniform_int_distribution<std::uint32_t> bits;
        for (std::size_t i = 3; i < x.size(); i += 5) { // values of every magnitude
            const float f = bitsToFloat(bits(gen));
            x[i] = std::isfinite(f) ? f : 1.0f;
        }
        for (const char* name : { "nxd-fp8", "vllm-fp8-dynamic", "nxd-fp8-e5m2" }) {
            const QuantScheme s = *findSchemePreset(name);
            const Fp8Kind kind = s.format == QuantFormat::Fp8E5M2 ? Fp8Kind::E5M2 : Fp8Kind::E4M3;
            for (const QuotientRounding rounding : { QuotientRounding::None, QuotientRounding::BF16 }) {
                for (const float scale : { 1.0f, 0.01f, 3.7e-3f, 1e-30f }) {
                    UnitParams p;
                    p.scale = scale;
                    p.inverse = 1.0f / scale;
                    p.quotientRounding = rounding;
                    std::vector<std::uint8_t> expected(x.size());
                    std::int64_t expectedClipped = 0;
                    for (std::size_t i = 0; i < x.size(); ++i) {
                        const QuantizedValue v = quantizeValue(s, p, x[i], i);
                        expected[i] = v.code;
                        expectedClipped += v.clipped;
                    }
                    for (const Table* t : tables()) {
                        std::vector<std::uint8_t> got(x.size());
                        std::vector<float> decoded(x.size());
                        const std::int64_t clipped = t->quantizeFp8(kind, rounding, scale, static_cast<float>(s.fp8Max),
                            x.data(), static_cast<std::int64_t>(x.size()), got.data(), decoded.data());
                        std::int64_t differ = 0;
                        for (std::size_t i = 0; i < x.size(); ++i) {
                            const Fp8Format f = kind == Fp8Kind::E5M2 ? Fp8Format::E5M2 : Fp8Format::E4M3;
                            const float value = fp8ToFloat(f, got[i]);
                            differ += got[i] != expected[i] || std::memcmp(&value, &decoded[i], 4) != 0;
                        }
                        QVERIFY2(differ == 0 && clipped == expectedClipped,
                            qPrintable(QStringLiteral("%1 %2 scale %3: %4 codes differ, clipped %5 vs %6")
                                           .arg(t->isa, name)
                                           .arg(static_cast<double>(scale))
                                           .arg(differ)
                                           .arg(clipped)
                                           .arg(expectedClipped)));
                    }
                }
            }
        }
    }

    // Statistics and error sums agree with double precision, including huge values whose
    // squares overflow a float lane, and NaN/infinity are flagged.
    void sumsAgreeWithDouble()
    {
        for (const std::size_t n : { std::size_t { 1 }, std::size_t { 3 }, std::size_t { 17 }, std::size_t { 4099 } }) {
            auto x = awkwardValues(n, static_cast<unsigned>(n));
            if (n > 1)
                x[n / 2] = 3e38f; // squares overflow float
            std::vector<std::int8_t> codes(n);
            for (std::size_t i = 0; i < n; ++i)
                codes[i] = static_cast<std::int8_t>(static_cast<int>(i % 255) - 127);
            double sumAbs = 0, sumSquares = 0, sig = 0, err = 0, rec = 0, dot = 0, maxErr = 0, cs = 0, css = 0;
            float mn = INFINITY, mx = -INFINITY, am = 0;
            const float scale = 0.37f, zp = 3.0f;
            for (std::size_t i = 0; i < n; ++i) {
                const double v = x[i];
                mn = std::min(mn, x[i]);
                mx = std::max(mx, x[i]);
                am = std::max(am, std::fabs(x[i]));
                sumAbs += std::fabs(v);
                sumSquares += v * v;
                const double d = (static_cast<float>(codes[i]) - zp) * scale;
                sig += v * v;
                err += (v - d) * (v - d);
                rec += d * d;
                dot += v * d;
                maxErr = std::max(maxErr, std::fabs(v - d));
                cs += codes[i];
                css += static_cast<double>(codes[i]) * codes[i];
            }
            auto near = [](double a, double b) { return std::fabs(a - b) <= 1e-5 * std::max(std::fabs(b), 1e-30); };
            for (const Table* t : tables()) {
                RunStats st;
                t->stats(x.data(), static_cast<std::int64_t>(n), st);
                QVERIFY(st.finite);
                QCOMPARE(st.min, mn);
                QCOMPARE(st.max, mx);
                QCOMPARE(st.absMax, am);
                QVERIFY2(near(st.sumAbs, sumAbs) && near(st.sumSquares, sumSquares), t->isa);
                RunStats onlyMax;
                t->absMax(x.data(), static_cast<std::int64_t>(n), onlyMax);
                QVERIFY(onlyMax.finite);
                QCOMPARE(onlyMax.absMax, am);
                RunError e;
                t->measureInt(x.data(), codes.data(), static_cast<std::int64_t>(n), scale, zp, e);
                QVERIFY2(near(e.signalEnergy, sig) && near(e.errorEnergy, err) && near(e.reconstructedEnergy, rec)
                        && near(e.dot, dot) && near(e.maxAbsError, maxErr),
                    qPrintable(QStringLiteral("%1 n=%2").arg(t->isa).arg(n)));
                QCOMPARE(e.codeSum, cs);
                QCOMPARE(e.codeSumSquares, css);
                std::vector<float> deq(n);
                t->dequantizeInt(codes.data(), static_cast<std::int64_t>(n), scale, zp, deq.data());
                for (std::size_t i = 0; i < n; ++i)
                    QCOMPARE(deq[i], (static_cast<float>(codes[i]) - zp) * scale);
                for (const float bad : { NAN, INFINITY, -INFINITY }) {
                    auto y = x;
                    y[n - 1] = bad;
                    RunStats s2, s3;
                    t->stats(y.data(), static_cast<std::int64_t>(n), s2);
                    t->absMax(y.data(), static_cast<std::int64_t>(n), s3);
                    QVERIFY(!s2.finite && !s3.finite);
                }
            }
        }
    }

    // Whole tensors: rows split over threads or not, the same codes, scales and statistics.
    // (The generic table runs the whole quantizer in ctest's tst_scheme_quantizer_generic.)
    void parallelAndSerialAgree()
    {
        const at::Tensor w = at::randn({ 37, 301 }).to(at::kBFloat16);
        for (const char* name : { "nxd-int8", "vllm-w8a8-int8", "vllm-w4a16", "aiu-int8", "nanogpt-affine" }) {
            const QuantScheme s = *findSchemePreset(name);
            const auto a = quantizeWithScheme(w, s);
            QuantizeOptions serial;
            serial.parallel = false;
            const auto b = quantizeWithScheme(w, s, serial);
            QVERIFY(at::equal(a.codes, b.codes));
            QVERIFY(at::equal(a.scale, b.scale));
            QCOMPARE(a.codeHistogram, b.codeHistogram);
            QCOMPARE(a.codeStd, b.codeStd);
        }
    }

    // Dynamic per-token activations: one scale per token of a [batch, seq, hidden] tensor, the
    // same codes as those rows quantized per channel, and a dequantization in the input's shape.
    void perTokenActivations()
    {
        at::manual_seed(5);
        const at::Tensor x = at::randn({ 2, 5, 64 }).to(at::kBFloat16);
        QuantScheme token = *findSchemePreset("vllm-w8a8-int8");
        token.granularity = Granularity::Token;
        QVERIFY_THROWS_EXCEPTION(UsageError, token.validate()); // not for stored weights
        const auto q = quantizeActivations(x, token);
        QCOMPARE(q.codes.sizes().vec(), x.sizes().vec());
        QCOMPARE(q.scale.sizes().vec(), (std::vector<std::int64_t> { 10, 1 }));
        const auto rows = quantizeWithScheme(x.reshape({ 10, 64 }), *findSchemePreset("vllm-w8a8-int8"));
        QVERIFY(at::equal(q.codes.reshape({ 10, 64 }), rows.codes));
        QVERIFY(at::equal(q.scale, rows.scale));
        const at::Tensor deq = dequantizeScheme(q);
        QCOMPARE(deq.sizes().vec(), x.sizes().vec());
        // Within a step of each token's own scale: the quotient x / scale is rounded to bf16 first
        // (8 significant bits: steps of 0.5 between 64 and 128) before rounding to the code.
        const double step = q.scale.max().item<double>();
        QVERIFY(at::allclose(deq, x.to(at::kFloat), 0, step));
        // A token's scale is its own abs-max / 127.5 (in bf16, as llm-compressor computes it).
        const float absMax = x[1][2].abs().max().to(at::kFloat).item<float>();
        QCOMPARE(q.scale[7][0].item<float>(), roundToBf16(absMax / 127.5f));
    }

    // Cancellation inside one large tensor: a flag raised mid-run stops it within milliseconds,
    // and a flag raised before the call stops it at once.
    void cancelStopsWithinATensor()
    {
        const at::Tensor w = at::randn({ 4096, 4096 });
        QuantScheme slow = *findSchemePreset("nanogpt-stochastic"); // the scalar path: ~1 s for this tensor
        CancelFlag before;
        before.cancel();
        QuantizeOptions options;
        options.cancel = before.token();
        QVERIFY_THROWS_EXCEPTION(CancelledError, quantizeWithScheme(w, slow, options));
        CancelFlag during;
        options.cancel = during.token();
        std::chrono::steady_clock::time_point raised;
        std::thread canceller([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            raised = std::chrono::steady_clock::now();
            during.cancel();
        });
        bool cancelled = false;
        try {
            quantizeWithScheme(w, slow, options);
        } catch (const CancelledError&) {
            cancelled = true;
        }
        const auto stopped = std::chrono::steady_clock::now();
        canceller.join();
        QVERIFY(cancelled);
        const double ms = std::chrono::duration<double, std::milli>(stopped - raised).count();
        qInfo("stopped %.1f ms after the cancel", ms);
        QVERIFY2(ms < 200, qPrintable(QString::number(ms)));
    }
};

QTEST_GUILESS_MAIN(TestRowKernels)
#include "tst_row_kernels.moc"
