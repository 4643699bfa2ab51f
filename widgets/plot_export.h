// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

#include <functional>

class QBoxLayout;
class QCustomPlot;
class QToolButton;

namespace qs::ui {

// "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)" for QFileDialog.
QString plotFileFilter();

// Saves the plot as PNG, SVG or PDF, chosen by the suffix of `path` (case-insensitive).
// `width` and `height` are the size in pixels (points for PDF); 0 takes the widget's current
// size. The file is written under a temporary name in the same folder and renamed into place,
// so a failed export never leaves a half-written file. On failure returns false and, when
// `error` is given, says why (an unsupported suffix is named).
bool savePlot(QCustomPlot* plot, const QString& path, int width = 0, int height = 0, QString* error = nullptr);

// A file name for a plot from its title: "model.layers.0.mlp.up_proj weight" ->
// "model.layers.0.mlp.up_proj_weight"; "plot" when nothing usable is left.
QString plotFileBaseName(const QString& title);

// Appends an "Export…" tool button to `layout` that asks for a file name (starting from
// plotFileBaseName(suggestedTitle()) in the last folder used by this button) and saves the
// plot there with savePlot; errors are shown in a message box. The button is owned by the
// widget that owns `layout` (or `plot`'s parent until the layout is installed).
QToolButton* addExportButton(QBoxLayout* layout, QCustomPlot* plot, std::function<QString()> suggestedTitle);

} // namespace qs::ui
