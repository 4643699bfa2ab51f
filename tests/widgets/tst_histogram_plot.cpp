// SPDX-License-Identifier: GPL-3.0-or-later
// The histogram plot renders both distributions; it is not blank and spans the data.
#include "histogram_plot.h"
#include "qcustomplot_include.h"
#include "stats/histogram.h"
#include "test_support.h"

#include <QTest>

using namespace qs;

namespace {

Histogram histogramOf(const std::vector<float>& v, double lo, double hi, int bins)
{
    HistogramBuilder b(lo, hi, bins);
    b.addAll(v.data(), static_cast<std::int64_t>(v.size()));
    return b.histogram();
}

// Pixels that differ clearly from white inside the axis rectangle.
int inkInside(const QImage& image, const QRect& rect, const QColor& near)
{
    int n = 0;
    for (int y = rect.top(); y <= rect.bottom(); ++y) {
        for (int x = rect.left(); x <= rect.right(); ++x) {
            const QColor c = image.pixelColor(x, y);
            if (std::abs(c.red() - near.red()) + std::abs(c.green() - near.green()) + std::abs(c.blue() - near.blue())
                < 90)
                ++n;
        }
    }
    return n;
}

} // namespace

class TestHistogramPlot : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void histogramBuilder()
    {
        const Histogram h = histogramOf({ 0.0f, 0.1f, 0.5f, 0.99f, 1.0f, -1.0f, 2.0f }, 0.0, 1.0, 4);
        QCOMPARE(h.counts, (std::vector<std::uint64_t> { 2, 0, 1, 2 }));
        QCOMPARE(h.below, 1u);
        QCOMPARE(h.above, 1u);
        QCOMPARE(h.total(), 7u);
        HistogramBuilder withNan(0.0, 1.0, 2);
        withNan.add(std::nan(""));
        withNan.add(0.75);
        QCOMPARE(withNan.histogram().nonFinite, 1u);
        QCOMPARE(withNan.histogram().counts, (std::vector<std::uint64_t> { 0, 1 }));
        QCOMPARE(h.binCenter(0), 0.125);
        const Histogram flat = histogramOf({ 3.0f, 3.0f }, 3.0, 3.0, 10);
        QVERIFY(flat.hi > flat.lo);
        QCOMPARE(flat.total(), 2u);
    }

    void rendersBothDistributions()
    {
        const auto values = test::randomNormal(20000, 1);
        std::vector<float> coarse(values.size());
        for (std::size_t i = 0; i < values.size(); ++i)
            coarse[i] = std::round(values[i] * 4.0f) / 4.0f; // a visible quantization grid
        const Histogram original = histogramOf(values, -4, 4, 120);
        const Histogram dequantized = histogramOf(coarse, -4, 4, 120);

        ui::HistogramPlot plot;
        plot.resize(640, 420);
        plot.setHistograms(QStringLiteral("demo tensor"), original, &dequantized);
        QVERIFY(plot.hasData());
        QCOMPARE(plot.plot()->xAxis->range().lower, -4.0);
        QCOMPARE(plot.plot()->xAxis->range().upper, 4.0);
        QVERIFY(plot.plot()->yAxis->range().upper
            >= static_cast<double>(*std::max_element(dequantized.counts.begin(), dequantized.counts.end())));
        QCOMPARE(plot.plot()->graphCount(), 3); // the stored codes' series, hidden until set
        QCOMPARE(plot.plot()->legend->itemCount(), 2);
        QVERIFY(!plot.hasStoredHistogram());

        const QImage image = plot.plot()->toPixmap(640, 420).toImage();
        const QRect area = plot.plot()->axisRect()->rect();
        QVERIFY2(inkInside(image, area, QColor(31, 119, 180)) > 500, "the float distribution is not drawn");
        QVERIFY2(inkInside(image, area, QColor(214, 39, 40)) > 200, "the dequantized distribution is not drawn");

        // A checkpoint's own stored codes (the nanoGPT fork), dashed green, in the legend; the
        // next setHistograms() removes them.
        plot.setStoredHistogram(&dequantized, QStringLiteral("stored codes (symmetric_quant 8-bit)"));
        QVERIFY(plot.hasStoredHistogram());
        QCOMPARE(plot.plot()->legend->itemCount(), 3);
        const QImage withStored = plot.plot()->toPixmap(640, 420).toImage();
        QVERIFY2(inkInside(withStored, area, QColor(44, 160, 44)) > 100, "the stored codes are not drawn");
        plot.setHistograms(QStringLiteral("demo tensor"), original, &dequantized);
        QVERIFY(!plot.hasStoredHistogram());
        QCOMPARE(plot.plot()->legend->itemCount(), 2);

        plot.setLogScale(true);
        QCOMPARE(plot.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
        plot.setHistograms(QStringLiteral("kept tensor"), original, nullptr);
        QCOMPARE(plot.plot()->legend->itemCount(), 1);
        plot.showMessage(QStringLiteral("nothing"));
        QVERIFY(!plot.hasData());
    }
};

QTEST_MAIN(TestHistogramPlot)
#include "tst_histogram_plot.moc"
