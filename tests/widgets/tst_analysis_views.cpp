// SPDX-License-Identifier: GPL-3.0-or-later
// The analysis views draw hand-made statistics: each renders (ink inside the axis rectangle)
// over the expected axis ranges; the heatmap asks for the zoomed window once, clamped; plots
// export to PNG, SVG and PDF. The layer table is in tst_layer_table.cpp.
#include "channel_plot.h"
#include "code_histogram_plot.h"
#include "heatmap_view.h"
#include "histogram_plot.h"
#include "plot_export.h"
#include "qcustomplot_include.h"
#include "statistics_box.h"
#include "stats/histogram.h"
#include "stats/tensor_statistics.h"

#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QImage>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <limits>

using namespace qs;

namespace {

// Pixels inside `rect` that differ clearly from white.
int inkInside(const QImage& image, const QRect& rect)
{
    int n = 0;
    for (int y = rect.top(); y <= rect.bottom(); ++y) {
        for (int x = rect.left(); x <= rect.right(); ++x) {
            const QColor c = image.pixelColor(x, y);
            if ((255 - c.red()) + (255 - c.green()) + (255 - c.blue()) > 60)
                ++n;
        }
    }
    return n;
}

// Pixels inside `rect` close to `near`.
int pixelsNear(const QImage& image, const QRect& rect, const QColor& near)
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

QImage render(QCustomPlot* plot)
{
    plot->replot(QCustomPlot::rpImmediateRefresh);
    return plot->toPixmap(plot->width(), plot->height()).toImage();
}

// A 100 x 60 matrix shown in its rows [10, 90), reduced by 2 x 2 blocks.
Heatmap makeHeatmap(std::int64_t rowBegin = 10, std::int64_t rowEnd = 90, std::int64_t colBegin = 0,
    std::int64_t colEnd = 60, std::int64_t block = 2)
{
    Heatmap h;
    h.rows = 100;
    h.cols = 60;
    h.rowBegin = rowBegin;
    h.rowEnd = rowEnd;
    h.colBegin = colBegin;
    h.colEnd = colEnd;
    h.blockRows = block;
    h.blockCols = block;
    h.outRows = static_cast<int>((rowEnd - rowBegin + block - 1) / block);
    h.outCols = static_cast<int>((colEnd - colBegin + block - 1) / block);
    h.values.resize(static_cast<std::size_t>(h.outRows) * h.outCols);
    for (int r = 0; r < h.outRows; ++r) {
        for (int c = 0; c < h.outCols; ++c)
            h.values[static_cast<std::size_t>(r) * h.outCols + c] = std::sin(0.3f * r) * std::cos(0.2f * c) + 0.1f;
    }
    h.minValue = *std::min_element(h.values.begin(), h.values.end());
    h.maxValue = *std::max_element(h.values.begin(), h.values.end());
    return h;
}

CodeHistogram makeInt8Codes()
{
    CodeHistogram codes;
    for (int q = -127; q <= 127; ++q) {
        codes.levels.push_back(q);
        codes.counts.push_back(
            static_cast<std::int64_t>(std::round(5000.0 * std::exp(-0.5 * (q / 30.0) * (q / 30.0)))));
    }
    codes.counts.front() = 50;
    codes.counts.back() = 40;
    codes.atMin = 50;
    codes.atMax = 40;
    codes.clippedFraction = 0.001;
    return codes;
}

ChannelStatistics makeChannels(bool quantized)
{
    ChannelStatistics c;
    for (int i = 0; i < 64; ++i) {
        const float f = static_cast<float>(i);
        c.min.push_back(-1.0f - 0.01f * f);
        c.max.push_back(1.0f + 0.02f * f);
        c.mean.push_back(0.001f * f);
        c.std.push_back(0.3f);
        c.absMax.push_back(i == 7 ? 40.0f : 1.0f + 0.02f * f);
        if (quantized) {
            c.codeStd.push_back(10.0f + f); // 10 channels below 20
            c.codeStdBefore.push_back(5.0f + f); // 15 below 20
        }
    }
    return c;
}

template <typename T> T* childWithText(QWidget* parent, const QString& text)
{
    for (auto* w : parent->findChildren<T*>()) {
        if (w->text() == text)
            return w;
    }
    return nullptr;
}

QComboBox* comboWithItem(QWidget* parent, const QString& item)
{
    for (auto* combo : parent->findChildren<QComboBox*>()) {
        if (combo->findText(item) >= 0)
            return combo;
    }
    return nullptr;
}

} // namespace

class TestAnalysisViews : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void heatmapShowsTheWindow()
    {
        ui::HeatmapView view;
        view.resize(700, 450);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QSignalSpy requests(&view, &ui::HeatmapView::windowRequested);
        QVERIFY(!view.hasData());

        view.setHeatmap(QStringLiteral("q_proj.weight"), makeHeatmap());
        QVERIFY(view.hasData());
        QCOMPARE(view.plot()->xAxis->range().lower, 0.0);
        QCOMPARE(view.plot()->xAxis->range().upper, 60.0);
        QCOMPARE(view.plot()->yAxis->range().lower, 10.0);
        QCOMPARE(view.plot()->yAxis->range().upper, 90.0);
        QVERIFY(view.plot()->yAxis->rangeReversed());
        QVERIFY2(view.reductionText().contains(QStringLiteral("abs-max of a 2 × 2 block")),
            qPrintable(view.reductionText()));
        QVERIFY2(view.reductionText().contains(QStringLiteral("40 × 30 cells")), qPrintable(view.reductionText()));
        // Symmetric colour range by default.
        const QCPRange data = view.colorMap()->dataRange();
        QCOMPARE(data.lower, -data.upper);

        const QImage image = render(view.plot());
        const QRect area = view.plot()->axisRect()->rect();
        QVERIFY2(inkInside(image, area) > area.width() * area.height() / 2, "the heatmap is not drawn");

        QTest::qWait(400);
        QCOMPARE(requests.count(), 0); // showing a heatmap asks for nothing

        // Zoom: one request for the visible columns, at most one cell per element.
        view.plot()->xAxis->setRange(20.4, 40.6);
        QTRY_COMPARE(requests.count(), 1);
        QTest::qWait(300);
        QCOMPARE(requests.count(), 1);
        QList<QVariant> args = requests.takeFirst();
        QCOMPARE(args.at(0).toLongLong(), 10);
        QCOMPARE(args.at(1).toLongLong(), 90);
        QCOMPARE(args.at(2).toLongLong(), 20);
        QCOMPARE(args.at(3).toLongLong(), 41);
        QCOMPARE(args.at(4).toInt(), std::min(80, view.plot()->axisRect()->height()));
        QCOMPARE(args.at(5).toInt(), 21);

        // Panning past the matrix is clamped to it.
        view.plot()->yAxis->setRange(-50, 500);
        QTRY_COMPARE(requests.count(), 1);
        args = requests.takeFirst();
        QCOMPARE(args.at(0).toLongLong(), 0);
        QCOMPARE(args.at(1).toLongLong(), 100);
        QVERIFY(args.at(4).toInt() >= 1 && args.at(4).toInt() <= 100);

        // The answer keeps the user's view and asks for nothing more.
        view.setHeatmap(QStringLiteral("q_proj.weight"), makeHeatmap(0, 100, 20, 41, 1));
        QCOMPARE(view.plot()->yAxis->range().lower, -50.0);
        QVERIFY(view.reductionText().contains(QStringLiteral("full resolution")));
        QTest::qWait(300);
        QCOMPARE(requests.count(), 0);

        // Reset zoom asks for the whole matrix; its answer sets the axes to it.
        auto* reset = childWithText<QPushButton>(&view, QStringLiteral("Reset zoom"));
        QVERIFY(reset);
        reset->click();
        QCOMPARE(requests.count(), 1);
        args = requests.takeFirst();
        QCOMPARE(args.at(0).toLongLong(), 0);
        QCOMPARE(args.at(1).toLongLong(), 100);
        QCOMPARE(args.at(2).toLongLong(), 0);
        QCOMPARE(args.at(3).toLongLong(), 60);
        view.setHeatmap(QStringLiteral("q_proj.weight"), makeHeatmap(0, 100, 0, 60, 4));
        QCOMPARE(view.plot()->yAxis->range().lower, 0.0);
        QCOMPARE(view.plot()->yAxis->range().upper, 100.0);
        QTest::qWait(300);
        QCOMPARE(requests.count(), 0);

        view.showMessage(QStringLiteral("nothing"));
        QVERIFY(!view.hasData());
    }

    void heatmapSettings()
    {
        ui::HeatmapView view;
        view.resize(700, 450);
        QSignalSpy settings(&view, &ui::HeatmapView::settingsChanged);
        QCOMPARE(view.reduction(), HeatmapReduction::AbsMax);
        QCOMPARE(view.field(), HeatmapField::Values);
        QVERIFY(view.symmetricScale());

        auto* reduction = comboWithItem(&view, QStringLiteral("block mean"));
        QVERIFY(reduction);
        reduction->setCurrentIndex(reduction->findText(QStringLiteral("block mean")));
        QCOMPARE(settings.count(), 1);
        QCOMPARE(view.reduction(), HeatmapReduction::Mean);

        view.setField(HeatmapField::Error);
        QCOMPARE(view.field(), HeatmapField::Error);
        QCOMPARE(settings.count(), 1); // setters are silent
        view.setErrorAvailable(false);
        QVERIFY(!view.errorAvailable());
        QCOMPARE(view.field(), HeatmapField::Values);
        view.setField(HeatmapField::Error);
        QCOMPARE(view.field(), HeatmapField::Values);
        view.setErrorAvailable(true);
        view.setField(HeatmapField::Error);
        QCOMPARE(view.field(), HeatmapField::Error);

        // A single cell still covers the window; the asymmetric scale spans the data.
        Heatmap one = makeHeatmap(0, 100, 0, 60, 100);
        QCOMPARE(one.outRows, 1);
        QCOMPARE(one.outCols, 1);
        one.values = { 0.5f };
        view.setSymmetricScale(false);
        // The middle of the default (blue–white–red) map is white: draw with one that is not.
        for (auto* box : view.findChildren<QComboBox*>()) {
            const int thermal = box->findText(QStringLiteral("Thermal"));
            if (thermal >= 0)
                box->setCurrentIndex(thermal);
        }
        view.setHeatmap(QStringLiteral("tiny"), one);
        const QImage image = render(view.plot());
        const QRect area = view.plot()->axisRect()->rect();
        QVERIFY(inkInside(image, area) > area.width() * area.height() / 2);
        QVERIFY(view.colorMap()->dataRange().lower < 0.5 && view.colorMap()->dataRange().upper > 0.5);
    }

    void codeHistogram()
    {
        ui::CodeHistogramPlot plot;
        plot.resize(700, 450);
        QVERIFY(!plot.hasData());
        plot.setCodes(QStringLiteral("down_proj int8"), makeInt8Codes());
        QVERIFY(plot.hasData());
        QVERIFY(plot.logScale());
        QCOMPARE(plot.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
        QVERIFY(plot.plot()->xAxis->range().lower <= -127.5);
        QVERIFY(plot.plot()->xAxis->range().upper >= 127.5);
        QVERIFY(plot.plot()->xAxis->range().lower > -140);
        QVERIFY(plot.plot()->yAxis->range().upper >= 5000);
        QVERIFY2(plot.saturationText().contains(QStringLiteral("at -127")), qPrintable(plot.saturationText()));
        QVERIFY2(plot.saturationText().contains(QStringLiteral("at 127")), qPrintable(plot.saturationText()));
        QVERIFY2(plot.saturationText().contains(QStringLiteral("0.1 %")), qPrintable(plot.saturationText()));

        const QImage image = render(plot.plot());
        const QRect area = plot.plot()->axisRect()->rect();
        QVERIFY2(pixelsNear(image, area, QColor(31, 119, 180)) > 2000, "the code bars are not drawn");
        QVERIFY2(pixelsNear(image, area, QColor(214, 39, 40)) > 20, "the saturation bars are not drawn");

        plot.setLogScale(false);
        QCOMPARE(plot.plot()->yAxis->scaleType(), QCPAxis::stLinear);
        QCOMPARE(plot.plot()->yAxis->range().lower, 0.0);

        CodeHistogram fp8;
        fp8.fp8 = true;
        for (double v : { -448.0, -256.0, -64.0, -8.0, -1.0, -0.125, 0.0, 0.125, 1.0, 8.0, 64.0, 256.0, 448.0 }) {
            fp8.levels.push_back(v);
            fp8.counts.push_back(static_cast<std::int64_t>(1000 / (1 + std::fabs(v))) + 3);
        }
        fp8.atMin = fp8.counts.front();
        fp8.atMax = fp8.counts.back();
        plot.setCodes(QStringLiteral("fp8"), fp8);
        QVERIFY(plot.plot()->xAxis->range().lower <= -448);
        QVERIFY(plot.plot()->xAxis->range().upper >= 448);
        const QImage impulses = render(plot.plot());
        QVERIFY(pixelsNear(impulses, plot.plot()->axisRect()->rect(), QColor(31, 119, 180)) > 100);

        plot.showMessage(QStringLiteral("not quantized"));
        QVERIFY(!plot.hasData());
    }

    void channelPlot()
    {
        ui::ChannelPlot plot;
        plot.resize(700, 450);
        QSignalSpy thresholds(&plot, &ui::ChannelPlot::thresholdChanged);
        const ChannelStatistics channels = makeChannels(true);
        plot.setChannels(QStringLiteral("down_proj"), channels);
        QVERIFY(plot.hasData());
        QCOMPARE(plot.mode(), ui::ChannelPlot::Mode::CodeStd);
        QCOMPARE(plot.threshold(), kNarrowStdThreshold);
        QVERIFY(plot.plot()->xAxis->range().lower <= 0);
        QVERIFY(plot.plot()->xAxis->range().upper >= 63);
        QVERIFY(plot.plot()->xAxis->range().upper < 65);
        QVERIFY(plot.plot()->yAxis->range().upper >= 73);
        QCOMPARE(plot.belowCount(), static_cast<int>(countBelow(channels.codeStd)));
        QCOMPARE(plot.belowCount(), 10);
        QVERIFY2(
            plot.summaryText().contains(QStringLiteral("10 of 64 channels below 20")), qPrintable(plot.summaryText()));
        QVERIFY2(
            plot.summaryText().contains(QStringLiteral("before recomputation: 15")), qPrintable(plot.summaryText()));

        QCPItemStraightLine* line = nullptr;
        for (int i = 0; i < plot.plot()->itemCount(); ++i) {
            if (auto* l = qobject_cast<QCPItemStraightLine*>(plot.plot()->item(i)))
                line = l;
        }
        QVERIFY(line && line->visible());
        QCOMPARE(line->point1->coords().y(), 20.0);
        QCOMPARE(line->point2->coords().y(), 20.0);

        const QImage image = render(plot.plot());
        const QRect area = plot.plot()->axisRect()->rect();
        QVERIFY2(pixelsNear(image, area, QColor(31, 119, 180)) > 150, "the code std is not drawn");
        QVERIFY2(pixelsNear(image, area, QColor(214, 39, 40)) > 150, "the threshold and the narrow channels");

        plot.setThreshold(30);
        QCOMPARE(plot.belowCount(), 20);
        QCOMPARE(line->point1->coords().y(), 30.0);
        QCOMPARE(thresholds.count(), 0);
        auto* spin = plot.findChild<QDoubleSpinBox*>();
        QVERIFY(spin);
        spin->setValue(12);
        QCOMPARE(thresholds.count(), 1);
        QCOMPARE(plot.belowCount(), 2);

        plot.setMode(ui::ChannelPlot::Mode::Ranges);
        QVERIFY(!line->visible());
        QVERIFY(plot.plot()->yAxis->range().lower <= -1.63);
        QVERIFY(plot.plot()->yAxis->range().upper >= 2.26);
        const QImage ranges = render(plot.plot());
        QVERIFY2(inkInside(ranges, plot.plot()->axisRect()->rect()) > 5000, "the ranges band is not drawn");
        QVERIFY2(plot.summaryText().contains(QStringLiteral("1 with an abs-max")), qPrintable(plot.summaryText()));

        // Not quantized: the ranges still work, the code std view says why it is empty.
        plot.setChannels(QStringLiteral("kept"), makeChannels(false));
        QVERIFY(plot.hasData());
        QCOMPARE(plot.belowCount(), 0);
        QVERIFY(inkInside(render(plot.plot()), plot.plot()->axisRect()->rect()) > 5000);
        plot.setMode(ui::ChannelPlot::Mode::CodeStd);
        QVERIFY(!line->visible());
        QVERIFY(plot.summaryText().isEmpty());
        plot.showMessage(QStringLiteral("none"));
        QVERIFY(!plot.hasData());
    }

    void histogramControls()
    {
        HistogramBuilder b(-4, 4, 80);
        for (int i = 0; i < 4000; ++i)
            b.add(4.0 * std::sin(0.37 * i) * std::fabs(std::cos(0.11 * i)));
        ui::HistogramPlot plot;
        plot.resize(640, 420);
        QSignalSpy bins(&plot, &ui::HistogramPlot::binsChanged);
        QCOMPARE(plot.bins(), 200);
        plot.setBins(64);
        QCOMPARE(plot.bins(), 64);
        QCOMPARE(bins.count(), 0);
        auto* spin = plot.findChild<QSpinBox*>();
        QVERIFY(spin);
        QCOMPARE(spin->minimum(), 10);
        QCOMPARE(spin->maximum(), 2000);
        spin->setValue(300);
        QCOMPARE(bins.count(), 1);
        QCOMPARE(bins.first().first().toInt(), 300);

        plot.setHistograms(QStringLiteral("t"), b.histogram(), nullptr);
        QCOMPARE(plot.plot()->xAxis->range().lower, -4.0);
        QCOMPARE(plot.plot()->xAxis->range().upper, 4.0);
        plot.setClipLines({ -5.0, 3.0 });
        QCOMPARE(plot.plot()->itemCount(), 2);
        QVERIFY(plot.plot()->xAxis->range().lower < -5.0);
        QVERIFY(plot.plot()->xAxis->range().upper >= 4.0);
        const QImage image = render(plot.plot());
        QVERIFY(pixelsNear(image, plot.plot()->axisRect()->rect(), QColor(110, 60, 160)) > 100);
        plot.setHistograms(QStringLiteral("t"), b.histogram(), nullptr); // keeps the lines in range
        QVERIFY(plot.plot()->xAxis->range().lower < -5.0);
        plot.setClipLines({});
        QCOMPARE(plot.plot()->itemCount(), 0);
        QCOMPARE(plot.plot()->xAxis->range().lower, -4.0);
        QCOMPARE(plot.plot()->xAxis->range().upper, 4.0);
    }

    void statisticsBox()
    {
        TensorStatistics s;
        s.count = 45088768;
        s.min = -0.53125;
        s.max = 0.61328125;
        s.mean = -1.2e-5;
        s.std = 0.0213;
        s.kurtosis = 12.75;
        s.zeros = 4508;
        s.outliers = 1234;
        for (double p : defaultPercentiles())
            s.percentiles.push_back({ p, p / 1000.0 - 0.05 });
        ui::StatisticsBox box;
        QVERIFY(!box.hasData());
        box.setStatistics(s);
        QVERIFY(box.hasData());
        const QString text = box.text();
        for (const char* expected : { "min", "max", "mean", "std", "kurtosis", "12.75", "45.09 M", "0.01&nbsp;%",
                 "6&nbsp;σ", "p0.1", "p50", "p99.9", "-0.531", "white-space:nowrap" })
            QVERIFY2(text.contains(QString::fromUtf8(expected)), expected);
        box.clear();
        QVERIFY(!box.hasData());
        QVERIFY(!box.text().contains(QStringLiteral("p50")));
    }

    void plotExport()
    {
        HistogramBuilder b(-1, 1, 50);
        for (int i = 0; i < 1000; ++i)
            b.add(std::sin(0.1 * i));
        ui::HistogramPlot plot;
        plot.resize(500, 350);
        plot.setHistograms(QStringLiteral("export me"), b.histogram(), nullptr);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QString error;

        const QString png = dir.filePath(QStringLiteral("plot.PNG"));
        QVERIFY2(ui::savePlot(plot.plot(), png, 400, 300, &error), qPrintable(error));
        QImage image(png);
        QCOMPARE(image.size(), QSize(400, 300));
        QVERIFY2(ui::savePlot(plot.plot(), png, 320, 200, &error), qPrintable(error)); // replaces
        QCOMPARE(QImage(png).size(), QSize(320, 200));

        const QString svg = dir.filePath(QStringLiteral("plot.svg"));
        QVERIFY2(ui::savePlot(plot.plot(), svg, 400, 300, &error), qPrintable(error));
        QFile svgFile(svg);
        QVERIFY(svgFile.open(QIODevice::ReadOnly));
        const QByteArray svgText = svgFile.readAll();
        QVERIFY(svgText.startsWith("<?xml"));
        QVERIFY(svgText.contains("<svg"));
        QVERIFY(svgText.contains("export me"));

        const QString pdf = dir.filePath(QStringLiteral("plot.pdf"));
        QVERIFY2(ui::savePlot(plot.plot(), pdf, 0, 0, &error), qPrintable(error));
        QFile pdfFile(pdf);
        QVERIFY(pdfFile.open(QIODevice::ReadOnly));
        QVERIFY(pdfFile.read(4) == "%PDF");

        QVERIFY(!ui::savePlot(plot.plot(), dir.filePath(QStringLiteral("plot.bmp")), 100, 100, &error));
        QVERIFY2(error.contains(QStringLiteral("bmp")), qPrintable(error));
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("plot.bmp"))));
        QVERIFY(!ui::savePlot(plot.plot(), dir.filePath(QStringLiteral("missing/plot.png")), 100, 100, &error));
        QVERIFY(!error.isEmpty());

        // Nothing but the finished files is left behind.
        QStringList files = QDir(dir.path()).entryList(QDir::Files | QDir::Hidden);
        files.sort();
        QCOMPARE(files,
            (QStringList { QStringLiteral("plot.PNG"), QStringLiteral("plot.pdf"), QStringLiteral("plot.svg") }));
        QCOMPARE(ui::plotFileBaseName(QStringLiteral("model.layers.0.mlp weight / codes")),
            QStringLiteral("model.layers.0.mlp_weight_codes"));
        QVERIFY(ui::plotFileFilter().contains(QStringLiteral("*.svg")));
    }
};

QTEST_MAIN(TestAnalysisViews)
#include "tst_analysis_views.moc"
