// SPDX-License-Identifier: GPL-3.0-or-later
#include "plot_images.h"

#include "format.h"
#include "heatmap_view.h"
#include "histogram_plot.h"
#include "plot_export.h"
#include "stats/tensor_analysis.h"

namespace qs::ui {

bool saveHistogramImage(const QString& path, const TensorAnalysis& a, int width, int height, QString* error)
{
    HistogramPlot view;
    view.resize(width, height);
    view.setLogScale(true);
    const QString name = QString::fromStdString(a.info.name);
    const QString title = QStringLiteral("%1  (%2, %3)\nmean %4, std %5, excess kurtosis %6")
                              .arg(name, formatShape(a.info.shape), dtypeText(a.info.dtype),
                                  formatNumber(a.summary.mean, 4), formatNumber(a.summary.std, 4),
                                  formatNumber(a.summary.kurtosis, 4));
    const QString stored = a.storedQuantization.empty()
        ? QString()
        : QStringLiteral("dequantized (stored %1)").arg(QString::fromStdString(a.storedQuantization));
    view.setHistograms(title, a.original, a.quantized ? &a.dequantized : nullptr, stored,
        QStringLiteral("dequantized (%1)").arg(QString::fromStdString(a.schemeName)));
    if (!a.storedCodes.empty())
        view.setStoredHistogram(
            &a.storedDequantized, QStringLiteral("stored codes (%1)").arg(QString::fromStdString(a.storedScheme)));
    view.setClipLines(a.clipLines);
    return savePlot(view.plot(), path, width, height, error);
}

bool saveMatrixImage(
    const QString& path, const QString& title, const Heatmap& heatmap, int width, int height, QString* error)
{
    HeatmapView view;
    view.resize(width, height);
    view.setSymmetricScale(heatmap.minValue < 0 && heatmap.maxValue > 0);
    view.setHeatmap(title, heatmap);
    return savePlot(view.plot(), path, width, height, error);
}

} // namespace qs::ui
