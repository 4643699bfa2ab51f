// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "analysis_tabs.h"
#include "loaded_model.h"
#include "project/project.h"
#include "runtime/export_calibration.h"

#include <QMainWindow>
#include <QString>

class QAction;
class QDockWidget;
class QLineEdit;
class QMenu;
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

class ActivationCaptureController;
class AlgorithmsBox;
class ActivationPanel;
class AnalysisController;
class CompareController;
class ComparePanel;
class EvalPanel;
class EvaluationController;
class SuggestController;
class SuggestPanel;
class ExportController;
class PlotAllController;
class ProjectController;
class JobController;
class JobStatus;
class KeepListController;
class LayerTableController;
class MeasuredPresetController;
class ModuleDetailsPanel;
class ModuleTreePane;
class RecentFiles;
class SelectionEditor;
struct JobContext;

// The main window: the module tree with its "keep full precision" column on the left, the
// analysis tabs on the right, progress and Cancel in the status bar, and the menus. Each kind of
// job has a controller that builds its request and fills its view; they all run through the one
// JobController, whose errors and refusals the window shows.
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
    // With calibration data in `calibration`, SmoothQuant, GPTQ and static input scales run first.
    // File > Export All Plots without its dialog (tests, --view): `kind` histogram or heatmap.
    void exportAllPlots(const QString& folder, const QString& kind, const QString& filter = QString());
    void exportTo(const QString& destination, bool overwrite = false, const QString& format = QStringLiteral("nxd"),
        const ExportCalibrationRequest& calibration = {});
    // Selects a module in the tree by its full path; false when there is none.
    bool selectModule(const QString& path);
    // Fills the layer table: every quantizable module measured with the current scheme (a job).
    void measureLayers();
    // Opens a second checkpoint in the Compare tab and shows it.
    void compareWith(const QString& path);
    // Runs the Evaluate tab: float and current-scheme perplexity on its data file (a job).
    void evaluate();
    void compareRecipes(); // the Evaluate tab's Compare Recipes
    // Captures activations on the Evaluate tab's data (a job); shown in the Activations tab.
    void captureActivations();
    // Suggest on the Evaluate tab's data with the Suggest tab's budget (a job); applies the choice.
    void suggest();
    // Projects (main_window_project.cpp): the session as a project, File > Save Project and
    // Open Project without their dialogs; openProject is asynchronous (projectOpened follows).
    Project currentProject() const;
    bool saveProject(const QString& file);
    void openProject(const QString& file);
    QString projectFile() const; // empty when no project is saved or opened

    LoadedModelPtr model() const { return m_model; }
    ui::ModuleTreeModel* treeModel() const { return m_treeModel; }
    QTreeView* treeView() const;
    JobController* jobs() const { return m_jobs; }
    AnalysisTabs* analysisTabs() const { return m_tabs; }
    ModuleDetailsPanel* details() const { return m_tabs->details(); }
    ui::LayerTable* layerTable() const { return m_tabs->layers(); }
    ComparePanel* comparePanel() const { return m_tabs->compare(); }
    EvalPanel* evalPanel() const { return m_tabs->eval(); }
    SuggestPanel* suggestPanel() const;
    ModuleTreePane* treePane() const { return m_pane; }
    ActivationPanel* activationPanel() const { return m_tabs->activations(); }
    ui::SchemePanel* schemePanel() const { return m_schemePanel; }
    QDockWidget* schemeDock() const { return m_schemeDock; }
    // The scheme dock's calibration section (SmoothQuant, GPTQ, calibration data and samples).
    AlgorithmsBox* algorithmsBox() const { return m_algorithms; }
    SelectionEditor* selection() const { return m_selection; }
    ui::RulesPanel* rulesPanel() const;
    QLineEdit* moduleFilter() const;
    const QString& lastError() const { return m_lastError; }

Q_SIGNALS:
    void modelOpened(const QString& path);
    void layersMeasured(int modules);
    void evaluated();
    void suggested(); // a Suggest run finished and its choice is applied
    void activationsCaptured(int points);
    void exportFinished(const QString& destination);
    void plotsExported(const QString& folder, int images);
    void storedActivationsShown(int points); // a checkpoint's own (the nanoGPT fork's)
    void projectOpened(const QString& file); // its checkpoint is open and the project applied
    void jobFailed(const QString& message);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void createSchemeDock();
    void createControllers();
    void connectControllers();
    // main_window_menus.cpp: the menus, the toolbar and what they enable.
    void createActions();
    void createFileMenu();
    void createViewMenu();
    void updateActions();
    void chooseFile();
    void chooseFolder();
    JobContext jobContext();
    void setLoadedModel(LoadedModelPtr model, const QString& path);
    void onCurrentModuleChanged();
    void onKeepChanged();
    void updateSummary();
    void showError(const QString& title, const QString& message, const QString& details = QString());
    void keepSelected(bool keep);
    void createProjectController(QMenu* recentMenu);
    void applyProject(const Project& project);
    void updateTitle();
    QString locateCheckpoint(const QString& missing);

    JobController* m_jobs = nullptr;
    LoadedModelPtr m_model;
    QString m_modelPath;
    QString m_lastError;

    ui::ModuleTreeModel* m_treeModel = nullptr;
    ui::RulesModel* m_rulesModel = nullptr;
    ModuleTreePane* m_pane = nullptr;
    AnalysisTabs* m_tabs = nullptr;
    SelectionEditor* m_selection = nullptr;
    QDockWidget* m_schemeDock = nullptr;
    ui::SchemePanel* m_schemePanel = nullptr;
    AlgorithmsBox* m_algorithms = nullptr;
    RecentFiles* m_recent = nullptr;
    ProjectController* m_project = nullptr;

    AnalysisController* m_analysis = nullptr;
    LayerTableController* m_layerTable = nullptr;
    CompareController* m_compare = nullptr;
    EvaluationController* m_evaluation = nullptr;
    SuggestController* m_suggest = nullptr;
    ActivationCaptureController* m_capture = nullptr;
    ExportController* m_export = nullptr;
    PlotAllController* m_plotAll = nullptr;
    MeasuredPresetController* m_measuredPresets = nullptr;
    KeepListController* m_keepLists = nullptr;

    JobStatus* m_status = nullptr;

    QAction* m_openFile = nullptr;
    QAction* m_openFolder = nullptr;
    QAction* m_openDemo = nullptr;
    QAction* m_exportAction = nullptr;
    QAction* m_openProjectAction = nullptr;
    QAction* m_saveProjectAction = nullptr;
    QAction* m_saveProjectAsAction = nullptr;
    QAction* m_compareAction = nullptr;
    QAction* m_plotAllAction = nullptr;
    QAction* m_measureAction = nullptr;
};

} // namespace qs::app
