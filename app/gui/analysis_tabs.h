// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QTabWidget>

namespace qs::ui {
class LayerTable;
}

namespace qs::app {

class ActivationPanel;
class ComparePanel;
class EvalPanel;
class ModuleDetailsPanel;
class SuggestPanel;

// The tabs on the right of the main window, each a view that a controller fills: the selected
// module's views, the layer table, the comparison, the evaluation, the activations and Suggest. Tabs
// are addressed by name (Tab or the panel), never by position, so reordering them is safe.
class AnalysisTabs : public QTabWidget
{
    Q_OBJECT
public:
    enum class Tab
    {
        Module,
        Layers,
        Compare,
        Evaluate,
        Activations,
        Suggest,
    };

    explicit AnalysisTabs(QWidget* parent = nullptr);

    ModuleDetailsPanel* details() const { return m_details; }
    ui::LayerTable* layers() const { return m_layers; }
    ComparePanel* compare() const { return m_compare; }
    EvalPanel* eval() const { return m_eval; }
    ActivationPanel* activations() const { return m_activations; }
    SuggestPanel* suggest() const { return m_suggest; }

    QWidget* panel(Tab tab) const;
    void showTab(Tab tab) { setCurrentWidget(panel(tab)); }

private:
    void addPanel(QWidget* panel, const QString& title, const QString& toolTip);

    ModuleDetailsPanel* m_details = nullptr;
    ui::LayerTable* m_layers = nullptr;
    ComparePanel* m_compare = nullptr;
    EvalPanel* m_eval = nullptr;
    ActivationPanel* m_activations = nullptr;
    SuggestPanel* m_suggest = nullptr;
};

} // namespace qs::app
