// SPDX-License-Identifier: GPL-3.0-or-later
// The analysis statistics against brute-force references on the same data: moments,
// percentiles (numpy's linear rule), per-channel ranges, histograms of the dequantized
// values, code histograms, clip lines, heatmap reduction, comparison and the layer table.
#include "demo/demo_model.h"
#include "error.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "quant/quant_scheme.h"
#include "quant/scheme_quantizer.h"
#include "stats/distribution.h"
#include "stats/heatmap_sampler.h"
#include "stats/module_errors.h"
#include "stats/quantized_distribution.h"
#include "stats/tensor_analysis.h"
#include "stats/tensor_comparison.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

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

std::vector<double> valuesOf(const at::Tensor& t)
{
    const at::Tensor d = t.to(at::kDouble).contiguous().reshape({ -1 });
    return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

std::vector<double> sortedCopy(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v;
}

// numpy.percentile(v, p) with the default linear method, of sorted values.
double numpyPercentile(const std::vector<double>& v, double p)
{
    const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
    const auto k = static_cast<std::size_t>(std::floor(pos));
    const double t = pos - static_cast<double>(k);
    const double a = v[k];
    const double b = v[std::min(k + 1, v.size() - 1)];
    return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

struct Reference
{
    double mean = 0, std = 0, kurtosis = 0, min = 0, max = 0;
    std::int64_t zeros = 0, outliers = 0;
};

Reference reference(const std::vector<double>& v, double sigmas)
{
    Reference r;
    const double n = static_cast<double>(v.size());
    for (double x : v)
        r.mean += x / n;
    double m2 = 0, m4 = 0;
    for (double x : v) {
        m2 += (x - r.mean) * (x - r.mean) / n;
        m4 += std::pow(x - r.mean, 4) / n;
    }
    r.std = std::sqrt(m2 * n / (n - 1));
    r.kurtosis = m4 / (m2 * m2) - 3;
    r.min = *std::min_element(v.begin(), v.end());
    r.max = *std::max_element(v.begin(), v.end());
    for (double x : v) {
        r.zeros += x == 0 ? 1 : 0;
        r.outliers += std::fabs(x - r.mean) > sigmas * r.std ? 1 : 0;
    }
    return r;
}

at::Tensor heavyTailed(std::int64_t rows, std::int64_t cols, std::uint64_t seed, double offset = 0)
{
    at::manual_seed(seed);
    at::Tensor t = at::randn({ rows, cols }) * 0.02 + offset;
    t.view({ -1 }).index_put_({ at::randint(0, rows * cols, { 40 }) }, 0.0); // exact zeros
    t.view({ -1 }).index_put_({ at::randint(0, rows * cols, { 25 }) }, 0.5); // outliers
    t.select(0, 3).mul_(8); // an outlier channel
    return t;
}

NullProgress g_progress;

} // namespace

class TestStatistics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void momentsAndPercentilesMatchTheReference_data()
    {
        QTest::addColumn<int>("dtype");
        QTest::addColumn<double>("offset");
        QTest::addColumn<double>("tolerance");
        QTest::newRow("f32") << int(at::kFloat) << 0.0 << 1e-6;
        QTest::newRow("f32 offset 1") << int(at::kFloat) << 1.0 << 1e-5; // a norm weight: mean >> std
        QTest::newRow("bf16") << int(at::kBFloat16) << 0.0 << 1e-6;
        QTest::newRow("f16") << int(at::kHalf) << 0.0 << 1e-6;
        QTest::newRow("f64") << int(at::kDouble) << 0.0 << 1e-6;
    }
    void momentsAndPercentilesMatchTheReference()
    {
        QFETCH(int, dtype);
        QFETCH(double, offset);
        QFETCH(double, tolerance);
        const at::Tensor t = heavyTailed(96, 700, 7, offset).to(static_cast<at::ScalarType>(dtype));
        const std::vector<double> v = valuesOf(t);
        const Reference ref = reference(v, 6);
        const Distribution d = measureDistribution(t);
        const TensorStatistics& s = d.stats;
        QCOMPARE(s.count, static_cast<std::int64_t>(v.size()));
        QCOMPARE(s.min, ref.min);
        QCOMPARE(s.max, ref.max);
        QCOMPARE(s.zeros, ref.zeros);
        QVERIFY(s.zeros >= 30);
        QCOMPARE(s.outliers, ref.outliers);
        QVERIFY(s.outliers > 0);
        QVERIFY2(std::fabs(s.mean - ref.mean) <= tolerance * std::max(1.0, std::fabs(ref.mean)),
            qPrintable(QString::number(s.mean - ref.mean)));
        QVERIFY2(std::fabs(s.std - ref.std) <= 1e-5 * ref.std, qPrintable(QString::number(s.std / ref.std - 1)));
        QVERIFY2(std::fabs(s.kurtosis - ref.kurtosis) <= 1e-4 * std::fabs(ref.kurtosis),
            qPrintable(QString("%1 vs %2").arg(s.kurtosis).arg(ref.kurtosis)));
        QCOMPARE(s.percentiles.size(), defaultPercentiles().size());
        const std::vector<double> sorted = sortedCopy(v);
        for (const Percentile& p : s.percentiles)
            QCOMPARE(p.value, numpyPercentile(sorted, p.percent)); // exact: the same order statistics

        // The histogram holds every value, over [min, max].
        QCOMPARE(d.histogram.total(), static_cast<std::uint64_t>(v.size()));
        QCOMPARE(d.histogram.lo, ref.min);
        QCOMPARE(d.histogram.hi, ref.max);
        QCOMPARE(d.histogram.counts.size(), std::size_t(200));
        HistogramBuilder b(ref.min, ref.max, 200);
        for (double x : v)
            b.add(x);
        std::int64_t moved = 0; // fine-bin sums may move a value sitting on a bin edge
        for (std::size_t i = 0; i < 200; ++i)
            moved += std::llabs(static_cast<long long>(b.histogram().counts[i] - d.histogram.counts[i]));
        QVERIFY2(moved <= 4, qPrintable(QString::number(moved)));

        // Per channel (row).
        QCOMPARE(d.channels.size(), 96);
        for (int r : { 0, 3, 95 }) {
            const std::vector<double> row = valuesOf(t.select(0, r));
            const Reference rr = reference(row, 6);
            QCOMPARE(double(d.channels.min[r]), double(static_cast<float>(rr.min)));
            QCOMPARE(double(d.channels.max[r]), double(static_cast<float>(rr.max)));
            QVERIFY(std::fabs(d.channels.mean[r] - rr.mean) <= 1e-5 * std::max(1.0, std::fabs(rr.mean)));
            QVERIFY(std::fabs(d.channels.std[r] - rr.std) <= 1e-4 * rr.std);
            QCOMPARE(double(d.channels.absMax[r]), double(static_cast<float>(std::max(-rr.min, rr.max))));
        }
        std::vector<float> absMax;
        for (int r = 0; r < 96; ++r)
            absMax.push_back(t.select(0, r).abs().max().to(at::kFloat).item<float>());
        std::vector<float> sortedMax = absMax;
        std::sort(sortedMax.begin(), sortedMax.end());
        const auto outliers
            = std::count_if(absMax.begin(), absMax.end(), [&](float a) { return a > 3 * sortedMax[48]; });
        QCOMPARE(countOutlierChannels(d.channels), static_cast<std::int64_t>(outliers));
        QVERIFY(outliers >= 1); // row 3 at least
    }

    void nonFiniteValuesAreCountedAndLeftOut()
    {
        at::Tensor t = at::arange(1000, at::kFloat);
        t[10] = std::nanf("");
        t[20] = INFINITY;
        const Distribution d = measureDistribution(t);
        QCOMPARE(d.stats.nonFinite, std::int64_t(2));
        QCOMPARE(d.stats.count, std::int64_t(998));
        QCOMPARE(d.stats.max, 999.0);
        QCOMPARE(d.histogram.nonFinite, std::uint64_t(1)); // NaN; infinity counts above, as HistogramBuilder
        QCOMPARE(d.histogram.above, std::uint64_t(1));
        QCOMPARE(d.histogram.total(), std::uint64_t(1000));
        QCOMPARE(d.stats.percentile(50), 500.5); // median of 0..999 without 10 and 20
    }

    void edgeCases()
    {
        const Distribution empty = measureDistribution(at::zeros({ 0, 4 }));
        QCOMPARE(empty.stats.count, std::int64_t(0));
        const Distribution flat = measureDistribution(at::full({ 5, 5 }, 3.0f));
        QCOMPARE(flat.stats.std, 0.0);
        QCOMPARE(flat.stats.kurtosis, 0.0);
        QCOMPARE(flat.stats.percentile(99), 3.0);
        QCOMPARE(flat.histogram.total(), std::uint64_t(25));
        const Distribution ints = measureDistribution(at::arange(10, at::kLong));
        QCOMPARE(ints.stats.mean, 4.5);
        const Distribution one = measureDistribution(at::ones({ 1 }));
        QCOMPARE(one.stats.percentile(0.1), 1.0);
        // A long single row is split into blocks.
        const at::Tensor longRow = at::randn({ 300000 });
        const Distribution big = measureDistribution(longRow);
        QVERIFY(std::fabs(big.stats.mean - longRow.mean().item<double>()) < 1e-6);
        QCOMPARE(big.channels.size(), 1);
        // Forced range: the values outside are counted below and above.
        DistributionOptions forced;
        forced.rangeLo = 0;
        forced.rangeHi = 10;
        forced.bins = 10;
        const Distribution f = measureDistribution(at::arange(-5, 15, at::kFloat), forced);
        QCOMPARE(f.histogram.below, std::uint64_t(5));
        QCOMPARE(f.histogram.above, std::uint64_t(4));
        QCOMPARE(f.histogram.counts.back(), std::uint64_t(2)); // 9 and 10
        CancelFlag cancel;
        cancel.cancel();
        DistributionOptions cancelled;
        cancelled.cancel = cancel.token();
        QVERIFY_THROWS_EXCEPTION(CancelledError, measureDistribution(at::randn({ 64, 64 }), cancelled));
    }

    // A spike heavier than one sort (a pruned weight's zeros, a few distinct values) is narrowed
    // with further histograms instead of being copied.
    void percentilesOfHeavySpikes()
    {
        at::manual_seed(9);
        at::Tensor t = at::randn({ 6000000 });
        t.slice(0, 0, 4500000).zero_(); // 75% zeros: the median's bin holds 4.5M values
        t.slice(0, 4500000, 5000000).fill_(0.25f); // a second, non-zero spike
        const std::vector<double> v = sortedCopy(valuesOf(t));
        const Distribution d = measureDistribution(t);
        for (const Percentile& p : d.stats.percentiles)
            QCOMPARE(p.value, numpyPercentile(v, p.percent));
        QCOMPARE(d.stats.percentile(50), 0.0);
        QCOMPARE(d.stats.zeros, std::int64_t(4500000));
        // Spread values in a heavy bin that are not all equal: 5M values in a narrow band.
        at::Tensor band = at::rand({ 5000000 }) * 1e-6 + 1.0;
        band[0] = -10.0f; // stretches the range so the band falls into one fine bin
        band[1] = 10.0f;
        const std::vector<double> bv = sortedCopy(valuesOf(band));
        const Distribution bd = measureDistribution(band);
        for (const Percentile& p : bd.stats.percentiles)
            QCOMPARE(p.value, numpyPercentile(bv, p.percent));
    }

    void quantizedViewsMatchTheDequantizedTensor_data()
    {
        QTest::addColumn<QString>("scheme");
        for (const char* s :
            { "nxd-int8", "nxd-int8-tensor", "nxd-fp8", "vllm-w4a16", "vllm-w8a8-int8", "aiu-int8", "nanogpt-affine" })
            QTest::newRow(s) << QString(s);
    }
    void quantizedViewsMatchTheDequantizedTensor()
    {
        QFETCH(QString, scheme);
        const QuantScheme s = preset(scheme.toUtf8().constData());
        const at::Tensor w = heavyTailed(64, 1280, 11).to(at::kBFloat16);
        const SchemeQuantized q = quantizeWithScheme(w, s);
        const at::Tensor deq = dequantizeScheme(q).contiguous();
        HistogramBuilder b(-0.6, 0.6, 150);
        b.addAll(deq.data_ptr<float>(), deq.numel());
        const Histogram h = dequantizedHistogram(q, -0.6, 0.6, 150);
        QCOMPARE(h.counts, b.histogram().counts);
        QCOMPARE(h.below, b.histogram().below);
        QCOMPARE(h.above, b.histogram().above);

        const CodeHistogram codes = codeHistogramOf(q);
        QCOMPARE(codes.total(), w.numel());
        QVERIFY(std::is_sorted(codes.levels.begin(), codes.levels.end()));
        if (!codes.fp8) {
            QCOMPARE(codes.levels.front(), double(s.qmin()));
            QCOMPARE(codes.levels.back(), double(s.qmax()));
            for (std::size_t i = 0; i < q.codeHistogram.size(); ++i)
                QCOMPARE(codes.counts[i], q.codeHistogram[i]);
            const at::Tensor c = q.codes.to(at::kInt);
            QCOMPARE(codes.atMax, (c == s.qmax()).sum().item<std::int64_t>());
            QCOMPARE(codes.atMin, (c == s.qmin()).sum().item<std::int64_t>());
        } else {
            QCOMPARE(codes.levels.back(), s.fp8Max);
            QVERIFY(codes.atMax > 0); // each row's abs-max maps to the top code
        }

        // Clip lines: every dequantized value lies within the widest range.
        const std::vector<double> lines = clipLinesOf(q);
        QVERIFY(!lines.empty() && lines.size() <= 4);
        const double lo = lines.front(), hi = lines.back();
        QVERIFY(deq.min().item<double>() >= lo - 1e-6);
        QVERIFY(deq.max().item<double>() <= hi + 1e-6);
    }

    void heatmapReducesBlocks()
    {
        at::manual_seed(3);
        const at::Tensor w = at::randn({ 37, 53 });
        HeatmapRequest r;
        r.outRows = 10;
        r.outCols = 7;
        Heatmap h = sampleHeatmap(w, r);
        QCOMPARE(h.blockRows, std::int64_t(4));
        QCOMPARE(h.blockCols, std::int64_t(8));
        QCOMPARE(h.outRows, 10);
        QCOMPARE(h.outCols, 7);
        for (int i = 0; i < h.outRows; ++i) {
            for (int j = 0; j < h.outCols; ++j) {
                const at::Tensor block = w.slice(0, i * 4, std::min<std::int64_t>(37, i * 4 + 4))
                                             .slice(1, j * 8, std::min<std::int64_t>(53, j * 8 + 8));
                const at::Tensor flat = block.reshape({ -1 });
                const float expected = flat[flat.abs().argmax()].item<float>();
                QCOMPARE(h.at(i, j), expected);
            }
        }
        r.reduction = HeatmapReduction::Mean;
        r.rowBegin = 5;
        r.rowEnd = 9;
        r.colBegin = 50;
        r.colEnd = 99; // clamped to 53
        h = sampleHeatmap(w, r);
        QCOMPARE(h.colEnd, std::int64_t(53));
        QCOMPARE(h.blockRows, std::int64_t(1));
        QCOMPARE(h.outCols, 3);
        QVERIFY(std::fabs(h.at(2, 1) - w[7][51].item<float>()) < 1e-7);

        // The error field against float minus dequantized.
        const QuantScheme s = preset("vllm-w4a16");
        const at::Tensor big = at::randn({ 16, 256 });
        const SchemeQuantized q = quantizeWithScheme(big, s);
        const at::Tensor err = big - dequantizeScheme(q);
        HeatmapRequest e;
        e.field = HeatmapField::Error;
        e.reduction = HeatmapReduction::Mean;
        e.outRows = 16;
        e.outCols = 2;
        h = sampleHeatmap(big, e, &q);
        for (int i = 0; i < 16; ++i)
            QVERIFY(std::fabs(h.at(i, 1) - err[i].slice(0, 128, 256).mean().item<float>()) < 1e-6);
        QVERIFY_THROWS_EXCEPTION(UsageError, sampleHeatmap(big, e));

        // Per tensor: one scale, the codes keep the matrix's rows.
        const SchemeQuantized qt = quantizeWithScheme(big, preset("nxd-int8-tensor"));
        const at::Tensor errT = big - dequantizeScheme(qt);
        e.reduction = HeatmapReduction::AbsMax;
        e.outCols = 256;
        h = sampleHeatmap(big, e, &qt);
        for (int i = 0; i < 16; ++i)
            for (int j = 0; j < 256; j += 17)
                QCOMPARE(h.at(i, j), errT[i][j].item<float>());
    }

    void analysisComparisonAndLayerTableOnACheckpoint()
    {
        QTemporaryDir dir;
        const fs::path folder = fs::path(dir.path().toStdString()) / "demo";
        writeDemoModel(folder);
        const Checkpoint c = Checkpoint::open(folder);
        const Checkpoint* checkpoint = &c;
        const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
        const std::string name = "model.layers.0.mlp.down_proj.weight";

        AnalysisOptions options;
        options.scheme = preset("aiu-int8");
        const TensorAnalysis a = analyzeTensor(*checkpoint, tree, name, options);
        QVERIFY(a.quantized);
        QCOMPARE(a.channels.size(), a.rows);
        QCOMPARE(static_cast<std::int64_t>(a.channels.codeStd.size()), a.rows);
        QCOMPARE(a.channels.codeStdBefore.size(), a.channels.codeStd.size()); // narrow recomputation
        QCOMPARE(a.codes.total(), a.info.shape[0] * a.info.shape[1]);
        QCOMPARE(a.dequantized.counts.size(), a.original.counts.size());
        QVERIFY(!a.clipLines.empty());
        QVERIFY(a.summary.percentiles.size() == defaultPercentiles().size());

        // Heatmap of the error, only the window's rows quantized.
        HeatmapRequest r;
        r.rowBegin = 8;
        r.rowEnd = 24;
        r.field = HeatmapField::Error;
        const Heatmap h = heatmapOfTensor(*checkpoint, name, r, preset("nxd-int8"));
        QCOMPARE(h.outRows, 16);
        QVERIFY(h.maxValue > 0 && h.minValue < 0);

        const TensorComparison same = compareTensors(*checkpoint, name, *checkpoint, name, 100);
        QVERIFY(same.sameShape);
        QCOMPARE(same.histogramA.counts, same.histogramB.counts);
        QCOMPARE(same.difference.mse, 0.0);

        const std::vector<LayerError> rows = measureLayerErrors(*checkpoint, tree, preset("nxd-int8"), g_progress);
        QCOMPARE(rows.size(), tree.quantizable().size());
        for (const LayerError& row : rows) {
            const SchemeQuantized q = quantizeWithScheme(checkpoint->load(row.tensor), preset("nxd-int8"));
            QCOMPARE(row.error.sqnrDb, q.error.sqnrDb);
            QCOMPARE(row.channels, row.shape[0]);
            QVERIFY(row.minCodeStd > 0);
        }
    }
};

QTEST_GUILESS_MAIN(TestStatistics)
#include "tst_statistics.moc"
