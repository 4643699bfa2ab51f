#pragma once

#include "loaded_model.h"

#include <QMainWindow>
#include <QSet>
#include <QString>

class QAction;
class QDockWidget;
class QLabel;
class QLineEdit;
class QPoint;
class QProgressBar;
class QPushButton;
class QTabWidget;
class QTreeView;

namespace qs::ui {
class LayerTable;
class ModuleTreeModel;
class RulesModel;
class RulesPanel;
class SchemePanel;
} // namespace qs::ui

namespace qs::app {

class ActivationPanel;
class ComparePanel;
class EvalPanel;
class JobController;
class ModuleDetailsPanel;
class RecentFiles;
class SelectionEditor;

// The main window: the module tree with its "keep full precision" column on the left, the
// selected module's distribution and error on the right, progress and Cancel in the status
// bar. Every long operation goes through the JobController; the GUI thread only dispatches.
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Where `--demo` and File ▸ Open Demo Model keep the generated demo checkpoint.
    static QString demoDirectory();

    void openPath(const QString& path);
    void openDemo();
    // Exports the open model with the current keep selection and the scheme panel's scheme.
    void exportTo(const QString& destination, bool overwrite = false, const QString& format = QStringLiteral("nxd"));
    // Selects a module in the tree by its full path; false when there is none.
    bool selectModule(const QString& path);
    // Fills the layer table: every quantizable module measured with the current scheme (a job).
    void measureLayers();
    // Opens a second checkpoint in the Compare tab and shows it.
    void compareWith(const QString& path);
    // Runs the Evaluate tab: float and current-scheme perplexity on its data file (a job).
    void evaluate();
    // Captures activations on the Evaluate tab's data (a job); shown in the Activations tab.
    void captureActivations();

    LoadedModelPtr model() const { return m_model; }
    ui::ModuleTreeModel* treeModel() const { return m_treeModel; }
    QTreeView* treeView() const { return m_tree; }
    JobController* jobs() const { return m_jobs; }
    ModuleDetailsPanel* details() const { return m_details; }
    QTabWidget* analysisTabs() const { return m_analysisTabs; }
    ui::LayerTable* layerTable() const { return m_layers; }
    ComparePanel* comparePanel() const { return m_compare; }
    EvalPanel* evalPanel() const { return m_eval; }
    ActivationPanel* activationPanel() const { return m_activations; }
    ui::SchemePanel* schemePanel() const { return m_schemePanel; }
    QDockWidget* schemeDock() const { return m_schemeDock; }
    SelectionEditor* selection() const { return m_selection; }
    ui::RulesPanel* rulesPanel() const { return m_rulesPanel; }
    QLineEdit* moduleFilter() const { return m_filter; }
    const QString& lastError() const { return m_lastError; }

Q_SIGNALS:
    void modelOpened(const QString& path);
    void layersMeasured(int modules);
    void evaluated();
    void activationsCaptured(int points);
    void exportFinished(const QString& destination);
    void jobFailed(const QString& message);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void createActions();
    void createStatusBar();
    void setLoadedModel(LoadedModelPtr model, const QString& path);
    void onCurrentModuleChanged();
    void updateSummary();
    void fitNameColumn();
    void updateActions();
    void showExportDialog();
    void chooseFile();
    void chooseFolder();
    void showError(const QString& title, const QString& message, const QString& details = QString());
    void showTreeMenu(const QPoint& position);
    void keepSelected(bool keep);
    void applyFilter(const QString& text);
    void importKeepList();
    void measureAndKeep(const QString& preset);
    void exportKeepList();
    // main_window_analysis.cpp: the tabs on the right (module views, layer table, compare).
    QWidget* createAnalysisTabs();
    void onAnalysisModelChanged();
    void followModuleInAnalysis(int node);
    QSet<QString> keptModuleSet() const;

    JobController* m_jobs = nullptr;
    LoadedModelPtr m_model;
    QString m_modelPath;
    QString m_lastError;

    ui::ModuleTreeModel* m_treeModel = nullptr;
    QTreeView* m_tree = nullptr;
    ModuleDetailsPanel* m_details = nullptr;
    QTabWidget* m_analysisTabs = nullptr;
    ui::LayerTable* m_layers = nullptr;
    ComparePanel* m_compare = nullptr;
    EvalPanel* m_eval = nullptr;
    ActivationPanel* m_activations = nullptr;
    QLabel* m_summary = nullptr;
    QLineEdit* m_filter = nullptr;
    ui::RulesModel* m_rulesModel = nullptr;
    ui::RulesPanel* m_rulesPanel = nullptr;
    SelectionEditor* m_selection = nullptr;
    QDockWidget* m_schemeDock = nullptr;
    ui::SchemePanel* m_schemePanel = nullptr;
    RecentFiles* m_recent = nullptr;

    QLabel* m_statusText = nullptr;
    QProgressBar* m_progress = nullptr;
    QPushButton* m_cancel = nullptr;

    QAction* m_openFile = nullptr;
    QAction* m_openFolder = nullptr;
    QAction* m_openDemo = nullptr;
    QAction* m_export = nullptr;
    QAction* m_compareAction = nullptr;
    QAction* m_measureAction = nullptr;
};

} // namespace qs::app
