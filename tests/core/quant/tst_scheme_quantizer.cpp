// SPDX-License-Identifier: GPL-3.0-or-later
// Quantization schemes: presets and their JSON, hand-computed values for every convention, and
// bit-identical codes against each consumer's formula run by Debian's PyTorch.
#include "error.h"
#include "quant/int8_per_channel.h"
#include "quant/int_packing.h"
#include "quant/kernels/row_kernels.h"
#include "quant/quant_scheme.h"
#include "quant/scheme_quantizer.h"
#include "test_support.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

using namespace qs;
namespace fs = std::filesystem;

namespace {

QuantScheme preset(const char* name)
{
    auto s = findSchemePreset(name);
    if (!s)
        throw std::runtime_error(std::string("no preset ") + name);
    return *s;
}

std::vector<int> codesOf(const SchemeQuantized& q)
{
    const at::Tensor c = q.codes.to(at::kInt).contiguous().reshape({ -1 });
    return std::vector<int>(c.data_ptr<int>(), c.data_ptr<int>() + c.numel());
}

at::Tensor row(std::vector<float> v)
{
    const auto n = static_cast<std::int64_t>(v.size());
    return at::tensor(v).reshape({ 1, n });
}

} // namespace

class TestSchemeQuantizer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { qInfo("row kernels: %s", kernels::best().isa); }

    void presetsAreCompleteAndValid()
    {
        const std::vector<std::string> expected { "nxd-int8", "nxd-int8-tensor", "nxd-fp8", "nxd-fp8-e5m2",
            "vllm-w8a8-int8", "vllm-fp8-dynamic", "vllm-w4a16", "vllm-w8a16", "aiu-int8", "nanogpt-symmetric",
            "nanogpt-affine", "nanogpt-stochastic", "nanogpt-ternary" };
        std::vector<std::string> names;
        for (const auto& s : schemePresets()) {
            names.push_back(s.name);
            s.validate();
            QCOMPARE(schemeToJson(schemeFromJson(schemeToJson(s))).dump(), schemeToJson(s).dump());
        }
        QCOMPARE(names, expected);
        QCOMPARE(preset("nxd-fp8").fp8Max, 240.0);
        QCOMPARE(preset("vllm-w4a16").groupSize, 128);
    }

    void jsonOverridesAndRefusals()
    {
        const QuantScheme s
            = schemeFromJson(nlohmann::ordered_json::parse(R"({"bits": 4, "granularity": "group", "group_size": 32})"),
                preset("vllm-w8a16"));
        QCOMPARE(s.bits, 4);
        QCOMPARE(s.granularity, Granularity::Group);
        QCOMPARE(s.convention, ScaleConvention::CompressedTensors);
        QVERIFY_THROWS_EXCEPTION(UsageError, schemeFromJson(nlohmann::ordered_json::parse(R"({"bitz": 4})")));
        QVERIFY_THROWS_EXCEPTION(UsageError, schemeFromJson(nlohmann::ordered_json::parse(R"({"rounding": "up"})")));
        QuantScheme bad = preset("nxd-int8");
        bad.symmetric = false;
        QVERIFY_THROWS_EXCEPTION(UsageError, bad.validate());
        bad = preset("vllm-w4a16");
        bad.groupSize = 0;
        QVERIFY_THROWS_EXCEPTION(UsageError, bad.validate());
        bad = preset("nxd-fp8");
        bad.fp8Max = 500;
        QVERIFY_THROWS_EXCEPTION(UsageError, bad.validate());
        bad = preset("nxd-int8");
        bad.granularity = Granularity::Token;
        QVERIFY_THROWS_EXCEPTION(UsageError, bad.validate());
    }

    void handComputedValues()
    {
        // compressed-tensors: absmax/127.5, clamp then round half to even, so -absmax -> -128.
        auto ct = quantizeWithScheme(row({ -127.5f, 127.5f, 0.0f, 2.5f }), preset("vllm-w8a8-int8"));
        QCOMPARE(codesOf(ct), (std::vector<int> { -128, 127, 0, 2 }));
        QCOMPARE(ct.scale.item<float>(), 1.0f);
        // fms-mo: 127 / clip * w, codes in [-127, 127], 63.5 rounds to 64.
        auto aiu = quantizeWithScheme(row({ -2.0f, 1.0f }), preset("aiu-int8"));
        QCOMPARE(codesOf(aiu), (std::vector<int> { -127, 64 }));
        QCOMPARE(aiu.clip.item<float>(), 2.0f);
        QCOMPARE(ct.codeHistogram.size(), std::size_t(256));
        QCOMPARE(ct.codeHistogram[0], std::int64_t(1)); // one -128
        QCOMPARE(ct.codeHistogram[255], std::int64_t(1)); // one 127
        QCOMPARE(ct.codeHistogram[128], std::int64_t(1)); // one 0
        QCOMPARE(ct.codeStd.size(), std::size_t(1));
        QVERIFY(std::fabs(ct.codeStd[0] - std::sqrt((128.0 * 128 + 127 * 127 + 4 - 0.25 * 1 * 1) / 3.0)) < 1e-3);
        QVERIFY(ct.error.cosine > 0.9999);
        // nanoGPT symmetric per tensor: absmax/127.
        auto sym = quantizeWithScheme(row({ -2.0f, 1.0f, 0.5f }), preset("nanogpt-symmetric"));
        QCOMPARE(codesOf(sym), (std::vector<int> { -127, 64, 32 }));
        // nanoGPT affine: scale (max-min)/255, zero point -round(min/scale) - 128.
        auto aff = quantizeWithScheme(row({ 0.0f, 1.0f, 3.0f }), preset("nanogpt-affine"));
        QCOMPARE(codesOf(aff), (std::vector<int> { -128, -43, 127 }));
        QCOMPARE(aff.zeroPoint.item<float>(), -128.0f);
        QVERIFY(at::allclose(dequantizeScheme(aff), row({ 0.0f, 1.0f, 3.0f })));
        // ternary: mean|x| = 0.65.
        auto ter = quantizeWithScheme(row({ 0.1f, -0.5f, 0.0f, 2.0f }), preset("nanogpt-ternary"));
        QCOMPARE(codesOf(ter), (std::vector<int> { 0, -1, 0, 1 }));
        QCOMPARE(ter.scale.item<float>(), 0.65f);
        // NxD fp8 within +-240: absmax 240 -> scale 1; 0x77 is 240 in e4m3, 0xF6 is -112 -> -120 rounds.
        auto f8 = quantizeWithScheme(row({ 240.0f, -120.0f, 0.5f }), preset("nxd-fp8"));
        QCOMPARE(f8.codeType, DType::F8_E4M3);
        QCOMPARE(f8.scale.item<float>(), 1.0f);
        QVERIFY(at::equal(dequantizeScheme(f8), row({ 240.0f, -120.0f, 0.5f })));
        // int4 groups of 3 over 7 columns: the last group holds one element.
        QuantScheme g = preset("vllm-w4a16");
        g.groupSize = 3;
        auto grouped = quantizeWithScheme(row({ 1, 2, 3, -7, 0, 7, 0.25f }), g);
        QCOMPARE(grouped.scale.sizes().vec(), (std::vector<std::int64_t> { 1, 3 }));
        QCOMPARE(grouped.scale[0][2].item<float>(), 0.25f / 7.5f);
        QCOMPARE(codesOf(grouped), (std::vector<int> { 2, 5, 7, -8, 0, 7, 7 }));
    }

    void edgeCases()
    {
        // all-zero rows: codes 0 with the convention's floor, never NaN
        for (const auto& s : schemePresets()) {
            const auto q = quantizeWithScheme(at::zeros({ 2, 4 }), s);
            QVERIFY2(dequantizeScheme(q).abs().sum().item<float>() == 0, s.name.c_str());
            QVERIFY2(std::isfinite(q.scale.sum().item<float>()) && q.scale.min().item<float>() > 0, s.name.c_str());
        }
        QuantScheme quirky = preset("nanogpt-symmetric");
        quirky.nanogptQuirks = true;
        QVERIFY_THROWS_EXCEPTION(FormatError, quantizeWithScheme(at::zeros({ 2, 2 }), quirky));
        // NaN and infinity are refused with the row
        at::Tensor bad = at::ones({ 3, 4 });
        bad[2][1] = std::nanf("");
        try {
            quantizeWithScheme(bad, preset("vllm-w8a8-int8"));
            QFAIL("NaN accepted");
        } catch (const FormatError& e) {
            QVERIFY2(std::string(e.what()).find("row 2") != std::string::npos, e.what());
        }
        // a single element, denormals, huge values, bf16 input, a scalar
        QCOMPARE(codesOf(quantizeWithScheme(at::full({ 1, 1 }, 3.0f), preset("nxd-int8"))), (std::vector<int> { 127 }));
        const auto tiny = quantizeWithScheme(row({ 1e-40f, -1e-40f }), preset("vllm-w8a8-int8"));
        QVERIFY(std::isfinite(tiny.scale.item<float>()));
        const auto huge = quantizeWithScheme(row({ 3e38f, -1.0f }), preset("nxd-int8"));
        QCOMPARE(codesOf(huge)[0], 127);
        const at::Tensor w = at::randn({ 16, 40 }).to(at::kBFloat16);
        QVERIFY(at::equal(quantizeWithScheme(w, preset("nxd-int8")).codes,
            quantizeWithScheme(w.to(at::kFloat), preset("nxd-int8")).codes));
        QCOMPARE(quantizeWithScheme(at::scalar_tensor(2.0), preset("nxd-int8-tensor")).codes.dim(), 0);
        // another channel axis: one scale per column
        QuantScheme cols = preset("vllm-w8a16");
        cols.axis = 1;
        QCOMPARE(quantizeWithScheme(at::randn({ 5, 7 }), cols).scale.size(0), 7);
    }

    void nxdSchemeMatchesTheVerifiedKernel()
    {
        const at::Tensor w = at::randn({ 64, 96 }) * 0.05;
        const auto viaScheme = quantizeWithScheme(w, preset("nxd-int8"));
        const auto kernel = quantizeInt8PerChannelNxd(w);
        QVERIFY(at::equal(viaScheme.codes, kernel.codes));
        QVERIFY(at::equal(viaScheme.scale, kernel.scale));
    }

    void stochasticRoundingIsSeededAndUnbiased()
    {
        QuantScheme s = preset("nanogpt-stochastic");
        const at::Tensor w = at::full({ 1, 20000 }, 0.3f);
        w[0][0] = 1.0f;
        s.seed = 7;
        const auto a = quantizeWithScheme(w, s);
        const auto b = quantizeWithScheme(w, s);
        QVERIFY(at::equal(a.codes, b.codes));
        s.seed = 8;
        QVERIFY(!at::equal(quantizeWithScheme(w, s).codes, a.codes));
        const double mean = dequantizeScheme(a).narrow(1, 1, 19999).mean().item<double>();
        QVERIFY2(std::fabs(mean - 0.3) < 0.002, std::to_string(mean).c_str());
    }

    // The same input through Debian's PyTorch with each consumer's formula: identical codes and scales.
    void bitIdenticalToTheConsumers()
    {
        QTemporaryDir dir;
        const std::int64_t rows = 24, cols = 1024;
        auto values = test::randomNormal(static_cast<std::size_t>(rows * cols), 11);
        for (std::int64_t c = 0; c < cols; ++c) // a narrow row: one spike over a tight bulk
            values[static_cast<std::size_t>(5 * cols + c)] *= (c == 17 ? 4.0f : 0.01f);
        values[static_cast<std::size_t>(9 * cols + 3)] = 30.0f; // an outlier
        values[static_cast<std::size_t>(3 * cols + 100)] = 8.0f; // a heavy-tailed row: SAWB clips it
        values[static_cast<std::size_t>(3 * cols + 900)] = -8.0f;
        const fs::path input = fs::path(dir.path().toStdString()) / "w.f32";
        test::writeFile(input, std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(QStringLiteral(QS_PYTHON),
            { QStringLiteral(QS_TESTS_DIR "/interop/reference_quantizers.py"), QString::fromStdString(input.string()),
                QString::number(rows), QString::number(cols), dir.path() });
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAll().constData());
        const at::Tensor w = at::from_blob(values.data(), { rows, cols }, at::kFloat);

        QStringList failures;
        auto check = [&](const char* name, QuantScheme scheme, at::ScalarType type = at::kFloat) -> SchemeQuantized {
            const auto q = quantizeWithScheme(w.to(type), scheme);
            const std::string codes
                = test::readFile(fs::path(dir.path().toStdString()) / (std::string(name) + ".codes"));
            const std::string scales
                = test::readFile(fs::path(dir.path().toStdString()) / (std::string(name) + ".scale"));
            const at::Tensor c = q.codes.contiguous();
            const at::Tensor s = q.scale.contiguous();
            if (codes.size() != static_cast<std::size_t>(c.numel())
                || scales.size() != static_cast<std::size_t>(s.numel()) * 4) {
                failures << QStringLiteral("%1: sizes differ").arg(name);
                return q;
            }
            std::int64_t differ = 0;
            for (std::int64_t i = 0; i < c.numel(); ++i)
                differ += c.data_ptr<std::int8_t>()[i] != static_cast<std::int8_t>(codes[static_cast<std::size_t>(i)]);
            if (differ)
                failures << QStringLiteral("%1: %2 codes differ").arg(name).arg(differ);
            if (std::memcmp(scales.data(), s.data_ptr<float>(), scales.size()) != 0)
                failures << QStringLiteral("%1: scales differ").arg(name);
            return q;
        };
        check("nxd-int8", preset("nxd-int8"));
        check("nxd-int8-tensor", preset("nxd-int8-tensor"));
        check("vllm-w8a8-int8", preset("vllm-w8a8-int8"));
        QuantScheme g32 = preset("vllm-w4a16");
        g32.groupSize = 32;
        check("vllm-w4a16-g32", g32);
        QuantScheme asym = g32;
        asym.symmetric = false;
        asym.groupSize = 24;
        const auto a = check("ct-int4-asym-g24", asym);
        const std::string zp = test::readFile(fs::path(dir.path().toStdString()) / "ct-int4-asym-g24.zp");
        QVERIFY(std::memcmp(zp.data(), a.zeroPoint.contiguous().data_ptr<float>(), zp.size()) == 0);
        // bf16 and fp16 weights: NxD computes in float32, llm-compressor in the weight's dtype.
        check("nxd-int8-bf16", preset("nxd-int8"), at::kBFloat16);
        check("vllm-w8a8-int8-bf16", preset("vllm-w8a8-int8"), at::kBFloat16);
        check("vllm-w4a16-g32-f16", g32, at::kHalf);
        const auto ab = check("ct-int4-asym-g24-bf16", asym, at::kBFloat16);
        const std::string zpb = test::readFile(fs::path(dir.path().toStdString()) / "ct-int4-asym-g24-bf16.zp");
        QVERIFY(std::memcmp(zpb.data(), ab.zeroPoint.contiguous().data_ptr<float>(), zpb.size()) == 0);
        QuantScheme float32Math = preset("vllm-w8a8-int8"); // off: float32 math, codes differ from upstream
        float32Math.weightDtypeMath = false;
        const at::Tensor exact = quantizeWithScheme(w.to(at::kBFloat16), preset("vllm-w8a8-int8")).codes;
        QVERIFY(!at::equal(quantizeWithScheme(w.to(at::kBFloat16), float32Math).codes, exact));
        QuantScheme p99 = preset("vllm-w8a8-int8");
        p99.clipping = Clipping::Percentile;
        p99.percentile = 99.0;
        check("ct-int8-p99", p99);
        QuantScheme plain = preset("aiu-int8");
        plain.recomputeNarrowWeights = false;
        check("aiu-int8-plain", plain);
        const auto sawb = check("aiu-int8", preset("aiu-int8"));
        QVERIFY(sawb.recomputedRows > 0);
        QVERIFY(sawb.codeStdBefore[5] < 20); // the narrow row triggers the recomputation
        QVERIFY(sawb.recomputedRows > 0);
        QVERIFY(sawb.codeStdAfter[3] > sawb.codeStdBefore[3]); // a recomputed row spreads over more codes
        for (std::size_t r = 0; r < sawb.codeStdAfter.size(); ++r)
            QVERIFY(sawb.codeStdAfter[r] >= sawb.codeStdBefore[r]);
        // The metrics describe the final codes with the stored clips, not the abs-max ones.
        const double mse = (dequantizeScheme(sawb) - w).square().mean().item<double>();
        QVERIFY2(std::fabs(sawb.error.mse - mse) <= 1e-6 * mse, qPrintable(QString::number(sawb.error.mse / mse)));
        std::int64_t counted = 0;
        for (const auto c : sawb.codeHistogram)
            counted += c;
        QCOMPARE(counted, w.numel());
        QVERIFY(sawb.clippedFraction > 0); // SAWB clips below the abs-max
        QCOMPARE(sawb.codeStd, sawb.codeStdAfter);
        check("nanogpt-symmetric", preset("nanogpt-symmetric"));
        check("nanogpt-affine", preset("nanogpt-affine"));
        check("nanogpt-ternary", preset("nanogpt-ternary"));
        QVERIFY2(failures.isEmpty(), qPrintable(failures.join(QStringLiteral("; "))));

        // int4 / int8 packing into int32 words, as compressed-tensors pack_to_int32
        for (int bits : { 4, 8 }) {
            QuantScheme scheme = bits == 4 ? g32 : preset("vllm-w8a8-int8");
            const at::Tensor codes = quantizeWithScheme(w, scheme).codes;
            const at::Tensor packed = packToInt32(codes, bits);
            QCOMPARE(packed.sizes().vec(), (std::vector<std::int64_t> { rows, cols * bits / 32 }));
            const std::string expected
                = test::readFile(fs::path(dir.path().toStdString()) / ("packed" + std::to_string(bits) + ".i32"));
            QCOMPARE(expected.size(), static_cast<std::size_t>(packed.numel()) * 4);
            QVERIFY2(std::memcmp(expected.data(), packed.data_ptr<std::int32_t>(), expected.size()) == 0,
                qPrintable(QStringLiteral("int%1 packing differs").arg(bits)));
            QVERIFY(at::equal(unpackFromInt32(packed, bits, cols), codes));
        }
    }

    void clippingMethods()
    {
        // A heavy-tailed row: MSE search and SAWB clip below the abs-max and lower the error.
        auto values = test::randomNormal(4096, 5);
        for (int i = 0; i < 8; ++i)
            values[static_cast<std::size_t>(i * 500)] = 12.0f;
        const at::Tensor w = at::from_blob(values.data(), { 1, 4096 }, at::kFloat).clone();
        QuantScheme s = preset("vllm-w8a16");
        s.bits = 4;
        const auto absmax = quantizeWithScheme(w, s);
        s.clipping = Clipping::MseSearch;
        const auto mse = quantizeWithScheme(w, s);
        QVERIFY(mse.scale.item<float>() < absmax.scale.item<float>());
        QVERIFY(mse.error.mse < absmax.error.mse);
        QVERIFY(mse.clippedFraction > 0);
        QuantScheme sawb = preset("vllm-w8a16");
        sawb.clipping = Clipping::Sawb;
        const double rms = std::sqrt(w.square().mean().item<double>());
        const double expected = 31.76 * rms - 35.04 * w.abs().mean().item<double>();
        QVERIFY(std::fabs(quantizeWithScheme(w, sawb).scale.item<float>() * 127.5 - expected) < 1e-3 * expected);
        QuantScheme asym = preset("nanogpt-affine");
        asym.clipping = Clipping::Percentile;
        QVERIFY_THROWS_EXCEPTION(UsageError, quantizeWithScheme(w, asym));
        QuantScheme tensor = preset("nxd-int8-tensor");
        tensor.clipping = Clipping::Percentile;
        tensor.percentile = 50;
        QVERIFY(quantizeWithScheme(w, tensor).scale.item<float>() < 0.02f); // the median |x| of N(0,1) is 0.67
    }

    void packingPadsAndRefuses()
    {
        const at::Tensor codes = at::tensor(std::vector<std::int8_t> { -8, 7, 0, 1, -1, 2, 3, 4, 5 }).reshape({ 1, 9 });
        const at::Tensor packed = packToInt32(codes, 4);
        QCOMPARE(packed.size(1), 2); // 9 values need 2 words; the rest is zero padding
        QCOMPARE(packed[0][1].item<std::int32_t>(), 5 + 8);
        QCOMPARE(static_cast<std::uint32_t>(packed[0][0].item<std::int32_t>()) & 0xFFu, 0xF0u); // -8 -> 0, 7 -> 15
        QVERIFY(at::equal(unpackFromInt32(packed, 4, 9), codes));
        QVERIFY_THROWS_EXCEPTION(UsageError, packToInt32(at::full({ 1, 2 }, 9, at::kChar), 4));
        QVERIFY_THROWS_EXCEPTION(UsageError, packToInt32(codes, 3));
    }
};

QTEST_GUILESS_MAIN(TestSchemeQuantizer)
#include "tst_scheme_quantizer.moc"
