// SPDX-License-Identifier: GPL-3.0-or-later
// The analysis views in the main window, offscreen: every tab of the module views fills,
// stale requests are dropped and repeat visits come from the cache, bins and the heatmap's
// error field re-compute, the layer table is measured as a job and clicks through to the
// module, the compare tab overlays an export, and the GUI thread keeps turning while a
// 45M-element weight is analysed.
#include "activation_panel.h"
#include "algorithms_box.h"
#include "channel_plot.h"
#include "code_histogram_plot.h"
#include "compare_panel.h"
#include "demo/demo_model.h"
#include "divergence_view.h"
#include "error.h"
#include "eval_panel.h"
#include "heatmap_view.h"
#include "histogram_plot.h"
#include "job_controller.h"
#include "layer_table.h"
#include "layer_table_model.h"
#include "main_window.h"
#include "module_details_panel.h"
#include "module_tree_model.h"
#include "module_tree_pane.h"
#include "qcustomplot_include.h"
#include "quant/quant_scheme.h"
#include "scheme_panel.h"
#include "statistics_box.h"
#include "test_support.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QTreeView>

#include <algorithm>

using namespace qs;
using qs::app::MainWindow;
using Panel = qs::app::ModuleDetailsPanel;

class TestAnalysisPanel : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_demo;

    void openDemo(MainWindow& w)
    {
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        QSignalSpy shown(w.details(), &Panel::analysisShown);
        w.openPath(m_demo);
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 20000);
        QTRY_VERIFY_WITH_TIMEOUT(shown.count() >= 1, 20000);
    }

    static QComboBox* comboWith(QWidget* parent, const QString& itemText)
    {
        for (auto* box : parent->findChildren<QComboBox*>()) {
            for (int i = 0; i < box->count(); ++i) {
                if (box->itemText(i).contains(itemText))
                    return box;
            }
        }
        return nullptr;
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

    void everyModuleViewFills()
    {
        MainWindow w;
        w.resize(1400, 850);
        w.show();
        openDemo(w);
        Panel* panel = w.details();
        QSignalSpy shown(panel, &Panel::analysisShown);
        QSignalSpy heatmap(panel, &Panel::heatmapShown);
        QVERIFY(w.selectModule(QStringLiteral("model.layers.1.mlp.down_proj")));
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 20000);
        QTRY_VERIFY_WITH_TIMEOUT(!heatmap.isEmpty() && heatmap.last().at(0).toString().contains("down_proj"), 20000);
        QVERIFY(panel->plot()->hasData());
        QCOMPARE(panel->plot()->clipLines().empty(), false);
        QVERIFY(panel->statisticsBox()->hasData());
        QVERIFY(panel->codesPlot()->hasData());
        QVERIFY(panel->channelPlot()->hasData());
        QVERIFY(panel->heatmapView()->hasData());
        const TensorAnalysis* a = panel->shownAnalysis();
        QVERIFY(a && a->quantized);
        QCOMPARE(a->channels.size(), std::int64_t(256));
        QCOMPARE(panel->heatmapView()->heatmap().rows, std::int64_t(256));
        QCOMPARE(panel->heatmapView()->heatmap().cols, std::int64_t(704));
        for (int tab = Panel::DistributionTab; tab <= Panel::ChannelsTab; ++tab) {
            panel->tabs()->setCurrentIndex(tab);
            QVERIFY(!panel->tabs()->currentWidget()->grab().isNull());
        }

        // The error field of the heatmap is computed on request.
        QComboBox* field = comboWith(panel->heatmapView(), QStringLiteral("error"));
        QVERIFY(field);
        const int before = heatmap.count();
        field->setCurrentIndex(1);
        QTRY_VERIFY_WITH_TIMEOUT(heatmap.count() > before, 20000);
        QCOMPARE(panel->heatmapView()->heatmap().field, HeatmapField::Error);
        QVERIFY(panel->heatmapView()->heatmap().maxValue > 0);

        // The user's bins re-compute the histogram.
        auto* bins = panel->plot()->findChild<QSpinBox*>();
        QVERIFY(bins);
        const int shownBefore = shown.count();
        bins->setValue(50);
        QTRY_VERIFY_WITH_TIMEOUT(shown.count() > shownBefore, 20000);
        QCOMPARE(panel->shownAnalysis()->original.counts.size(), std::size_t(50));
    }

    void staleRequestsAreDroppedAndRepeatsAreCached()
    {
        MainWindow w;
        w.show();
        openDemo(w);
        Panel* panel = w.details();
        QTRY_VERIFY_WITH_TIMEOUT(!panel->isBusy(), 20000);
        QSignalSpy shown(panel, &Panel::analysisShown);
        const QStringList modules { "model.layers.0.mlp.up_proj", "model.layers.1.mlp.up_proj",
            "model.layers.2.mlp.up_proj", "model.layers.3.mlp.up_proj" };
        for (const auto& m : modules)
            QVERIFY(w.selectModule(m));
        QTRY_VERIFY_WITH_TIMEOUT(!panel->isBusy(), 20000);
        QTest::qWait(50);
        // Only the newest request is shown; the others were cancelled before they finished.
        QVERIFY(!shown.isEmpty());
        QCOMPARE(shown.last().at(0).toString(), QStringLiteral("model.layers.3.mlp.up_proj.weight"));
        QCOMPARE(panel->currentTensor(), QStringLiteral("model.layers.3.mlp.up_proj.weight"));
        QVERIFY(shown.count() < modules.size());

        // Going back to a shown tensor is answered from the cache, without a worker.
        QVERIFY(w.selectModule(QStringLiteral("model.layers.1.mlp.down_proj")));
        QTRY_COMPARE_WITH_TIMEOUT(panel->currentTensor(), QStringLiteral("model.layers.1.mlp.down_proj.weight"), 20000);
        QVERIFY(w.selectModule(QStringLiteral("model.layers.3.mlp.up_proj")));
        QCOMPARE(panel->currentTensor(), QStringLiteral("model.layers.3.mlp.up_proj.weight")); // synchronously
    }

    void layerTableIsMeasuredAndClicksThrough()
    {
        MainWindow w;
        w.show();
        openDemo(w);
        QSignalSpy measured(&w, &MainWindow::layersMeasured);
        w.measureLayers();
        QTRY_COMPARE_WITH_TIMEOUT(measured.count(), 1, 30000);
        QCOMPARE(measured.at(0).at(0).toInt(), 29);
        // The status bar ends on the outcome, not on the job's last progress line.
        auto statusSays = [&w](const QString& text) {
            const auto labels = w.statusBar()->findChildren<QLabel*>();
            return std::any_of(labels.begin(), labels.end(), [&](const QLabel* l) { return l->text() == text; });
        };
        QTRY_VERIFY_WITH_TIMEOUT(statusSays(QStringLiteral("Measuring layers: done")), 5000);
        ui::LayerTable* table = w.layerTable();
        QAbstractItemModelTester tester(table->model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(table->model()->rowCount(), 29);
        QCOMPARE(w.analysisTabs()->currentWidget(), table);
        // Sorted by SQNR, lowest first: the first row is the worst module.
        const QModelIndex first = table->proxy()->index(0, 0);
        const int node = table->proxy()->data(first, ui::LayerTableModel::NodeRole).toInt();
        double lowest = 1e9;
        for (int r = 0; r < table->model()->rowCount(); ++r)
            lowest = std::min(lowest, table->model()->row(r)->error.sqnrDb);
        QCOMPARE(table->model()->row(table->model()->rowOfNode(node))->error.sqnrDb, lowest);
        // Activating it selects the module in the tree and shows its views.
        QSignalSpy shown(w.details(), &Panel::analysisShown);
        Q_EMIT table->view()->activated(first);
        QCOMPARE(w.analysisTabs()->currentWidget(), w.details());
        const QString path = QString::fromStdString(w.model()->tree.node(node).path);
        QCOMPARE(w.treeModel()->nodeOf(w.treeView()->currentIndex()), node);
        QTRY_COMPARE_WITH_TIMEOUT(w.details()->currentTensor(), path + QStringLiteral(".weight"), 20000);
        // CSV export of the table.
        QTemporaryDir dir;
        QString error;
        QVERIFY2(table->exportCsv(dir.filePath("layers.csv"), &error), qPrintable(error));
        QCOMPARE(
            test::readFile(dir.filePath("layers.csv").toStdString()).find("model.layers") != std::string::npos, true);
    }

    void compareTabOverlaysAnExport()
    {
        MainWindow w;
        w.show();
        openDemo(w);
        QTemporaryDir out;
        const QString dest = out.filePath(QStringLiteral("nxd"));
        QSignalSpy exported(&w, &MainWindow::exportFinished);
        w.exportTo(dest);
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 30000);
        QSignalSpy compared(w.comparePanel(), &app::ComparePanel::compared);
        w.compareWith(dest);
        QTRY_VERIFY_WITH_TIMEOUT(!compared.isEmpty(), 20000);
        QCOMPARE(w.analysisTabs()->currentWidget(), w.comparePanel());
        QVERIFY(w.comparePanel()->tensorBox()->count() > 30);
        // Following the tree: the selected module's weight is compared.
        QVERIFY(w.selectModule(QStringLiteral("model.layers.2.mlp.gate_proj")));
        QTRY_COMPARE_WITH_TIMEOUT(
            compared.last().at(0).toString(), QStringLiteral("model.layers.2.mlp.gate_proj.weight"), 20000);
        const TensorComparison* c = w.comparePanel()->shown();
        QVERIFY(c);
        QCOMPARE(QString::fromStdString(c->storedB), QStringLiteral("nxd"));
        QVERIFY(c->sameShape);
        QVERIFY(c->difference.sqnrDb > 20 && c->difference.sqnrDb < 80);
        QVERIFY(w.comparePanel()->plot()->hasData());
    }

    // The Evaluate tab runs the float and the quantized model on token ids as a job.
    void evaluateTabReportsPerplexity()
    {
        MainWindow w;
        w.show();
        openDemo(w);
        QTemporaryDir dir;
        QString ids = QStringLiteral("[1");
        for (int i = 0; i < 200; ++i)
            ids += QStringLiteral(", %1").arg((i * 37 + 11) % 512);
        test::writeFile(dir.filePath("ids.json").toStdString(), (ids + QStringLiteral("]")).toStdString());
        w.evalPanel()->setDataFile(dir.filePath("ids.json"));
        w.evalPanel()->setSeqLen(64);
        w.evalPanel()->setMemoryLimit(QStringLiteral("lots"));
        QVERIFY_THROWS_EXCEPTION(UsageError, w.evalPanel()->memoryLimit());
        w.evalPanel()->setMemoryLimit(QStringLiteral("900M"));
        QCOMPARE(w.evalPanel()->memoryLimit(), std::uint64_t(900) << 20);
        QSignalSpy done(&w, &MainWindow::evaluated);
        w.evaluate();
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 60000);
        QTableWidget* table = w.evalPanel()->table();
        QCOMPARE(table->rowCount(), 2);
        QCOMPARE(table->item(0, 0)->text(), QStringLiteral("float"));
        QCOMPARE(table->item(1, 0)->text(), QStringLiteral("nxd-int8"));
        QVERIFY(table->item(1, 1)->text().toDouble() > 1);
        QCOMPARE(table->item(1, 5)->text(), QStringLiteral("200")); // 4 windows of 64 predict every token
        // The same run drew where the error builds up, layer by layer, with every module's errors;
        // clicking a module selects it in the tree.
        ui::DivergenceView* divergence = w.evalPanel()->divergence();
        QVERIFY(divergence->hasData());
        QCOMPARE(divergence->table()->rowCount(), 4 * 7);
        QCOMPARE(divergence->plot()->graph(0)->dataCount(), 4);
        QCOMPARE(divergence->table()->item(6, 0)->text(), QStringLiteral("mlp.down_proj"));
        QCOMPARE(divergence->table()->item(6, 1)->text(), QStringLiteral("0"));
        QTest::mouseClick(divergence->table()->viewport(), Qt::LeftButton, {},
            divergence->table()->visualItemRect(divergence->table()->item(6, 0)).center());
        const std::vector<int> selected = w.treePane()->selectedModules();
        QCOMPARE(selected.size(), std::size_t(1));
        QCOMPARE(QString::fromStdString(w.model()->tree.node(selected.front()).path),
            QStringLiteral("model.layers.0.mlp.down_proj"));
        QString csvError;
        QVERIFY2(w.evalPanel()->exportCsv(dir.filePath("ppl.csv"), &csvError), qPrintable(csvError));
        const std::string csv = test::readFile(dir.filePath("ppl.csv").toStdString());
        QVERIFY(csv.rfind("Model,Perplexity", 0) == 0 && csv.find("nxd-int8") != std::string::npos);
        // A second run on the same data adds its row; static activations calibrate first.
        // The scheme dock's calibration samples: more tokens than the data holds is an error that
        // says so, before any work; three samples of 64 tokens then calibrate.
        QuantScheme staticScheme = *findSchemePreset("vllm-w8a8-int8");
        staticScheme.activations = "int8-tensor-static";
        w.schemePanel()->setScheme(staticScheme);
        QCOMPARE(w.algorithmsBox()->seqLen(), 512); // the demo model's positions
        w.evaluate();
        QTRY_VERIFY_WITH_TIMEOUT(w.lastError().contains(QStringLiteral("needs one sample of 512 tokens")), 60000);
        QCOMPARE(done.count(), 1);
        w.algorithmsBox()->setSamples(3);
        w.algorithmsBox()->setSeqLen(64);
        w.evaluate();
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 2, 60000);
        QCOMPARE(table->rowCount(), 3);
        QCOMPARE(table->item(2, 0)->text(), QStringLiteral("vllm-w8a8-int8 · int8-tensor-static"));
        QVERIFY(table->item(2, 3)->text().toDouble() > 0); // KL
        // SmoothQuant and GPTQ from the algorithm section run in the same job, on the calibration samples.
        AlgorithmSettings algorithms;
        algorithms.smoothQuant = 0.8;
        algorithms.gptq = true;
        w.algorithmsBox()->setSettings(algorithms);
        QCOMPARE(w.algorithmsBox()->choice().algorithms.smoothQuant.value_or(0), 0.8);
        w.evaluate();
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 3, 60000);
        QCOMPARE(table->rowCount(), 4);
        QCOMPARE(table->item(3, 0)->text(), QStringLiteral("vllm-w8a8-int8 · int8-tensor-static · SmoothQuant 0.8 + GPTQ"));
        // The layer table shows, per module, the error before and after the algorithms and GPTQ's loss.
        const auto cells = w.analysisTabs()->layers()->model()->calibration().value(
            QStringLiteral("model.layers.0.self_attn.q_proj"));
        QVERIFY(cells.rtnError > 0 && cells.calibratedError > 0 && cells.gptqLoss > 0);
        // AWQ before the rounding of a weight-only scheme (choosing it turns SmoothQuant off).
        w.schemePanel()->setScheme(*findSchemePreset("vllm-w4a16"));
        AlgorithmSettings awq;
        awq.awq = true;
        w.algorithmsBox()->setSettings(algorithms);
        w.algorithmsBox()->setSettings(awq);
        QVERIFY(!w.algorithmsBox()->choice().algorithms.smoothQuant && w.algorithmsBox()->choice().algorithms.awq);
        w.evaluate();
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 4, 60000);
        QCOMPARE(table->rowCount(), 5);
        QCOMPARE(table->item(4, 0)->text(), QStringLiteral("vllm-w4a16 · AWQ"));
        // SpinQuant learns from the Hadamard rotation in the same job and says how the loss went.
        AlgorithmSettings spin;
        spin.rotation = "hadamard";
        spin.spinQuant = true;
        spin.spinQuantSteps = 3;
        w.algorithmsBox()->setSettings(spin);
        QVERIFY(w.algorithmsBox()->choice().algorithms.spinQuant);
        w.evaluate();
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 5, 60000);
        QCOMPARE(table->rowCount(), 6);
        QCOMPARE(table->item(5, 0)->text(), QStringLiteral("vllm-w4a16 · Hadamard rotation + SpinQuant 3 steps"));
        QVERIFY2(w.evalPanel()->status().contains(QStringLiteral("SpinQuant: 3 steps")), qPrintable(w.evalPanel()->status()));
        w.algorithmsBox()->setSettings({});
        // Compare Recipes: one job, a row per recipe with its time and peak memory.
        w.compareRecipes();
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 6, 180000);
        QCOMPARE(table->rowCount(), 12);
        QCOMPARE(table->item(10, 0)->text(), QStringLiteral("vllm-w4a16 · hadamard+gptq"));
        QCOMPARE(table->item(11, 0)->text(), QStringLiteral("vllm-w4a16 · spinquant+gptq"));
        QVERIFY(table->item(11, 7)->text().endsWith(QStringLiteral(" s")));
        QVERIFY(table->item(11, 8)->text() != QStringLiteral("—"));
        // Other windows start a new table.
        w.evalPanel()->setSeqLen(32);
        w.evaluate();
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 7, 60000);
        QCOMPARE(table->rowCount(), 2);
        // Capturing activations on the same data fills the Activations tab.
        QSignalSpy captured(&w, &MainWindow::activationsCaptured);
        w.captureActivations();
        QTRY_COMPARE_WITH_TIMEOUT(captured.count(), 1, 60000);
        app::ActivationPanel* acts = w.activationPanel();
        QCOMPARE(captured.at(0).at(0).toInt(), 77); // 29 Linear inputs + 4 layers x 12 named points
        QCOMPARE(acts->pointCount(), 77);
        QCOMPARE(w.analysisTabs()->currentWidget(), acts);
        acts->showPoint(QStringLiteral("model.layers.1.mlp.down_proj"));
        QCOMPARE(acts->pointBox()->currentText(), QStringLiteral("model.layers.1.mlp.down_proj"));
        QVERIFY(acts->histogram()->hasData());
        QVERIFY(acts->channels()->hasData());
        QVERIFY(acts->heatmap()->hasData());
        QCOMPARE(acts->heatmap()->heatmap().cols, std::int64_t(704));
        acts->showPoint(QStringLiteral("model.layers.0.attention.probabilities"));
        QVERIFY(acts->histogram()->hasData());
        QVERIFY(!acts->channels()->hasData());

        // A missing data file fails the job with a message naming it (shown in a non-modal box).
        QSignalSpy failed(w.jobs(), &app::JobController::failed);
        w.evalPanel()->setDataFile(dir.filePath("missing.json"));
        w.evaluate();
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 20000);
        QVERIFY(failed.at(0).at(1).toString().contains(QStringLiteral("missing.json")));
    }

    // The GUI thread keeps processing events while a Llama-7B-sized MLP weight is analysed.
    void staysResponsiveOnALargeTensor()
    {
        QTemporaryDir dir;
        const std::string file = dir.filePath(QStringLiteral("big.safetensors")).toStdString();
        const std::int64_t rows = 11008, cols = 4096;
        test::writeSafetensors(file,
            { test::bf16Tensor("model.layers.0.mlp.up_proj.weight", { rows, cols },
                test::randomNormal(static_cast<std::size_t>(rows * cols), 3)) });
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        QSignalSpy shown(w.details(), &Panel::analysisShown);
        QElapsedTimer clock;
        qint64 last = 0, worst = 0;
        QTimer tick;
        tick.setInterval(5);
        QObject::connect(&tick, &QTimer::timeout, [&] {
            const qint64 now = clock.elapsed();
            worst = std::max(worst, now - last);
            last = now;
        });
        w.openPath(QString::fromStdString(file));
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 30000);
        clock.start();
        tick.start();
        QTRY_VERIFY_WITH_TIMEOUT(!shown.isEmpty(), 60000);
        QTRY_VERIFY_WITH_TIMEOUT(!w.details()->isBusy(), 60000);
        tick.stop();
        qInfo("analysis of %lld elements took %lld ms; the longest pause of the GUI thread was %lld ms",
            static_cast<long long>(rows * cols), static_cast<long long>(clock.elapsed()),
            static_cast<long long>(worst));
        // Blocking the GUI thread for the analysis would show as one pause of about its whole
        // length; allow a third of it (load from other tests stretches both).
        QVERIFY2(worst < std::max<qint64>(150, clock.elapsed() / 3), qPrintable(QString::number(worst)));
        QVERIFY(w.details()->shownAnalysis()->quantized);
    }
};

QTEST_MAIN(TestAnalysisPanel)
#include "tst_analysis_panel.moc"
