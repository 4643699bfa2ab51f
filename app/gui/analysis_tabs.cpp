// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis_tabs.h"

#include "activation_panel.h"
#include "compare_panel.h"
#include "eval_panel.h"
#include "layer_table.h"
#include "module_details_panel.h"
#include "suggest_panel.h"

namespace qs::app {

AnalysisTabs::AnalysisTabs(QWidget* parent)
    : QTabWidget(parent)
    , m_details(new ModuleDetailsPanel(this))
    , m_layers(new ui::LayerTable(this))
    , m_compare(new ComparePanel(this))
    , m_eval(new EvalPanel(this))
    , m_activations(new ActivationPanel(this))
    , m_suggest(new SuggestPanel(this))
{
    setObjectName(QStringLiteral("analysisTabs"));
    setDocumentMode(true);
    m_layers->setObjectName(QStringLiteral("layerTable"));
    m_compare->setObjectName(QStringLiteral("comparePanel"));
    m_eval->setObjectName(QStringLiteral("evalPanel"));
    m_activations->setObjectName(QStringLiteral("activationPanel"));
    m_suggest->setObjectName(QStringLiteral("suggestPanel"));
    addPanel(m_details, tr("Module"), tr("The selected module's distribution, codes, heatmap and channels"));
    addPanel(m_layers, tr("Layer table"), tr("Every quantizable module's error under the current scheme, sortable"));
    addPanel(m_compare, tr("Compare"), tr("The same tensor in a second checkpoint, e.g. an export of this one"));
    addPanel(m_eval, tr("Evaluate"), tr("Perplexity of the float and the quantized model on text"));
    addPanel(m_activations, tr("Activations"),
        tr("Calibration captures: activation histograms, ranges and heatmaps per point"));
    addPanel(m_suggest, tr("Suggest"),
        tr("Measured sensitivity per module, and the keep list (or scheme per module) for a perplexity, KL or size "
           "budget"));
}

QWidget* AnalysisTabs::panel(Tab tab) const
{
    switch (tab) {
    case Tab::Module:
        return m_details;
    case Tab::Layers:
        return m_layers;
    case Tab::Compare:
        return m_compare;
    case Tab::Evaluate:
        return m_eval;
    case Tab::Activations:
        return m_activations;
    case Tab::Suggest:
        return m_suggest;
    }
    return m_details;
}

void AnalysisTabs::addPanel(QWidget* panel, const QString& title, const QString& toolTip)
{
    setTabToolTip(addTab(panel, title), toolTip);
}

} // namespace qs::app
