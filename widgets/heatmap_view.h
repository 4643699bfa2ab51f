// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "stats/tensor_statistics.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QMouseEvent;
class QPushButton;
class QTimer;
class QCPColorMap;
class QCPColorScale;
class QCPTextElement;
class QCustomPlot;

namespace qs::ui {

// A window of a matrix and the cell counts to reduce it to (what windowRequested asks for).
struct HeatmapWindow
{
    qint64 rowBegin = 0;
    qint64 rowEnd = 0;
    qint64 colBegin = 0;
    qint64 colEnd = 0;
    int outRows = 0;
    int outCols = 0;
    bool operator==(const HeatmapWindow& o) const
    {
        return rowBegin == o.rowBegin && rowEnd == o.rowEnd && colBegin == o.colBegin && colEnd == o.colEnd
            && outRows == o.outRows && outCols == o.outCols;
    }
    bool operator!=(const HeatmapWindow& o) const { return !(*this == o); }
};

// A weight matrix (or its quantization error) as a colour map: x is the input column, y the
// output row with row 0 at the top. Each cell is a block reduced by abs-max or mean, computed by
// the owner: zooming or panning with the mouse asks for the visible window again at screen
// resolution (windowRequested, debounced), "Reset zoom" for the whole matrix. The colour scale
// is symmetric around 0 by default (a diverging map); an Export button saves the plot.
class HeatmapView : public QWidget
{
    Q_OBJECT
public:
    explicit HeatmapView(QWidget* parent = nullptr);

    // Shows a heatmap. A new title or matrix shape (and the answer to "Reset zoom") sets the axes
    // to the heatmap's window; otherwise the user's current view is kept. Never emits
    // windowRequested by itself.
    void setHeatmap(const QString& title, const Heatmap& heatmap);
    // An empty plot with a message in place of the title.
    void showMessage(const QString& message);
    bool hasData() const { return m_hasData; }
    const Heatmap& heatmap() const { return m_heatmap; }

    // The settings the owner computes with. The setters do not emit settingsChanged().
    HeatmapReduction reduction() const;
    void setReduction(HeatmapReduction reduction);
    HeatmapField field() const;
    void setField(HeatmapField field);
    // Without a scheme there is no error to show: the entry is disabled and, when selected,
    // the field switches back to the values (silently).
    void setErrorAvailable(bool available);
    bool errorAvailable() const;
    bool symmetricScale() const;
    void setSymmetricScale(bool on);

    // The visible part of the matrix (clamped to it) and the cells that fit the plot's pixels.
    HeatmapWindow visibleWindow() const;
    // The sentence under the plot: what a cell stands for.
    QString reductionText() const;
    QCustomPlot* plot() const { return m_plot; }
    QCPColorMap* colorMap() const { return m_map; }

Q_SIGNALS:
    void windowRequested(qint64 rowBegin, qint64 rowEnd, qint64 colBegin, qint64 colEnd, int outRows, int outCols);
    void settingsChanged();

private:
    void setAxisRanges(double xLower, double xUpper, double yLower, double yUpper);
    void onRangeChanged();
    void requestVisibleWindow();
    void resetZoom();
    void fillMap();
    void applyDataRange();
    void applyGradient();
    void updateInfo();
    void showCursor(QMouseEvent* event);

    QCustomPlot* m_plot = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QComboBox* m_gradient = nullptr;
    QCheckBox* m_symmetric = nullptr;
    QComboBox* m_reduction = nullptr;
    QComboBox* m_field = nullptr;
    QPushButton* m_resetZoom = nullptr;
    QLabel* m_info = nullptr;
    QLabel* m_cursor = nullptr;
    QTimer* m_debounce = nullptr;

    Heatmap m_heatmap;
    QString m_titleText;
    HeatmapWindow m_lastRequest;
    bool m_hasData = false;
    bool m_settingRanges = false;
    bool m_resetPending = false;
};

} // namespace qs::ui
