// SPDX-License-Identifier: GPL-3.0-or-later
// Projects in the GUI: File > Save Project writes the session (rules, scheme, per-module schemes,
// export target) and `quantscope-cli run` replays it into exactly the GUI's export; the title's
// unsaved-changes mark follows edits and saves; Open Project restores the session in a new
// window; a project whose checkpoint moved asks where it went (or fails, naming it), and a
// newer schema is refused with its version.
#include "cli_runner.h"
#include "demo/demo_model.h"
#include "main_window.h"
#include "project/project.h"
#include "project_controller.h"
#include "scheme_panel.h"
#include "selection_editor.h"
#include "test_support.h"

#include <QApplication>
#include <QMenu>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace qs;
using qs::app::MainWindow;
using qs::app::ProjectController;
namespace fs = std::filesystem;

class TestProjectGui : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_demo;

    QString path(const QString& name) const { return m_dir.filePath(name); }

    void openDemo(MainWindow& w)
    {
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(m_demo);
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 20000);
    }

    static std::vector<SelectionRule> rules()
    {
        return { { RuleSyntax::Module, "lm_head", RuleAction::Keep, {}, "test" },
            { RuleSyntax::NxdPartial, "layers.0.self_attn", RuleAction::Quantize, "vllm-w4a16", "test" },
            { RuleSyntax::NxdPartial, "layers.2.mlp", RuleAction::Keep, {}, "test" } };
    }

private Q_SLOTS:
    void initTestCase()
    {
        QApplication::setOrganizationName(QStringLiteral("QuantScopeTests"));
        QVERIFY(m_dir.isValid());
        m_demo = m_dir.filePath(QStringLiteral("demo"));
        writeDemoModel(m_demo.toStdString());
    }

    void init() { QSettings().clear(); }

    void savedProjectReplaysTheGuiExport()
    {
        MainWindow w;
        w.show();
        openDemo(w);
        QVERIFY(!w.isWindowModified());
        QVERIFY(w.schemePanel()->selectPreset(QStringLiteral("vllm-w8a8-int8")));
        w.selection()->setRules(rules(), QStringLiteral("test rules"));
        QVERIFY(w.isWindowModified()); // nothing saved yet
        const QString gui = path(QStringLiteral("gui-export"));
        QSignalSpy exported(&w, &MainWindow::exportFinished);
        w.exportTo(gui, false, QStringLiteral("compressed-tensors"));
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 30000);
        QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));

        const QString project = path(QStringLiteral("session"));
        QVERIFY(w.saveProject(project));
        QCOMPARE(w.projectFile(), project + QStringLiteral(".qsproj")); // the extension is added
        QVERIFY(!w.isWindowModified());
        QVERIFY(w.windowTitle().startsWith(QStringLiteral("session.qsproj[*] (demo)")));

        const CliRun replay = runCli(
            { QStringLiteral("run"), w.projectFile(), QStringLiteral("-o"), path(QStringLiteral("cli-replay")) });
        QVERIFY2(replay.exitCode == 0, qPrintable(replay.err));
        const auto a = test::snapshotTree(gui.toStdString());
        const auto b = test::snapshotTree(path(QStringLiteral("cli-replay")).toStdString());
        QVERIFY(a.size() >= 4);
        QCOMPARE(b.size(), a.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            QCOMPARE(b[i].first, a[i].first);
            QVERIFY2(a[i].second == b[i].second, a[i].first.c_str()); // bit for bit
        }

        // An edit marks the session unsaved; saving clears it.
        w.selection()->setRules({ rules()[0] }, QStringLiteral("fewer"));
        QVERIFY(w.isWindowModified());
        QVERIFY(w.saveProject(w.projectFile()));
        QVERIFY(!w.isWindowModified());
        w.selection()->setRules(rules(), QStringLiteral("back"));
        QVERIFY(w.saveProject(w.projectFile()));
    }

    void openProjectRestoresTheSession()
    {
        const QString project = path(QStringLiteral("session.qsproj"));
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::projectOpened);
        w.openPath(project); // a .qsproj given as a path opens as a project
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 20000);
        QCOMPARE(w.projectFile(), project);
        QVERIFY(!w.isWindowModified());
        QCOMPARE(w.model()->checkpoint.path(), fs::path(m_demo.toStdString()));
        QCOMPARE(rulesToJson(w.selection()->rules()), rulesToJson(rules()));
        QCOMPARE(w.schemePanel()->scheme().name, std::string("vllm-w8a8-int8"));
        const Project p = w.currentProject();
        QVERIFY(p.output.format == ExportFormat::CompressedTensors);
        QCOMPARE(p.output.destination, fs::path(path(QStringLiteral("gui-export")).toStdString()));
        QCOMPARE(w.selection()->moduleSchemes().size(), std::size_t(4)); // q, k, v, o of layer 0
    }

    // The controller alone, with a stub session: a moved checkpoint is asked for and the project
    // is then unsaved (the new path); giving up fails naming the checkpoint; a newer schema fails.
    void movedCheckpointIsAskedFor()
    {
        const fs::path moved = path(QStringLiteral("moved-demo")).toStdString();
        fs::copy(m_demo.toStdString(), moved, fs::copy_options::recursive);
        Project project;
        project.checkpoint = moved;
        project.rules = rules();
        project.scheme = *findSchemePreset("nxd-int8");
        const QString file = path(QStringLiteral("moved.qsproj"));
        writeProject(file.toStdString(), project);
        const fs::path elsewhere = path(QStringLiteral("elsewhere")).toStdString();
        fs::rename(moved, elsewhere);

        QString opening;
        std::optional<Project> applied;
        QString located = QString::fromStdString(elsewhere.string());
        ProjectController::Session session;
        session.current = [] { return Project {}; };
        session.modelPath = [&opening] { return opening; };
        session.openModel = [&opening](const QString& p) { opening = p; };
        session.apply = [&applied](const Project& p) { applied = p; };
        session.locate = [&located](const QString&) { return located; };
        QMenu recent;
        ProjectController controller(session, &recent, nullptr);
        QSignalSpy failed(&controller, &ProjectController::failed);
        controller.open(file);
        QCOMPARE(opening, located);
        controller.onModelOpened(opening);
        QVERIFY(applied);
        QCOMPARE(rulesToJson(applied->rules), rulesToJson(rules()));
        QCOMPARE(controller.file(), file);
        QVERIFY(controller.isModified()); // the located path is not saved yet
        QCOMPARE(failed.count(), 0);

        located.clear(); // the user gives up
        fs::rename(elsewhere, moved.string() + "-gone");
        writeProject(file.toStdString(), project);
        controller.open(file);
        QCOMPARE(failed.count(), 1);
        QVERIFY(failed.last().at(1).toString().contains(QString::fromStdString(moved.string())));

        nlohmann::ordered_json j = projectToJson(project, file.toStdString());
        j["quantscope_project"] = 3;
        std::ofstream(file.toStdString()) << j.dump();
        controller.open(file);
        QCOMPARE(failed.count(), 2);
        QVERIFY2(failed.last().at(1).toString().contains(QStringLiteral("schema version 3")),
            qPrintable(failed.last().at(1).toString()));
    }
};

QTEST_MAIN(TestProjectGui)
#include "tst_project_gui.moc"
