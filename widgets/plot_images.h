// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The images `plot --all` and File > Export All Plots write (visualize.py's histogram and
// matrix, done with QuantScope's own views): drawn offscreen and saved with savePlot(). They
// create widgets, so they run on the GUI thread of a QApplication.
#include <QString>

namespace qs {
struct Heatmap;
struct TensorAnalysis;
} // namespace qs

namespace qs::ui {

// The values' histogram (log counts): the float or dequantized values, the re-quantized ones
// when the analysis has them, and the checkpoint's stored codes when it has those; the title
// names the tensor, its shape and dtype, and its mean, std and excess kurtosis.
bool saveHistogramImage(const QString& path, const TensorAnalysis& analysis, int width, int height, QString* error);

// The matrix as a heatmap (`title` above it); the colour scale is symmetric around 0 unless
// every value is of one sign.
bool saveMatrixImage(
    const QString& path, const QString& title, const Heatmap& heatmap, int width, int height, QString* error);

} // namespace qs::ui
