// SPDX-License-Identifier: GPL-3.0-or-later
// The GUI end to end, offscreen: open the demo model, keep one module in full precision,
// export, and check the result on disk.
#include "demo/demo_model.h"
#include "activation_panel.h"
#include "export_dialog.h"
#include "heatmap_view.h"
#include "histogram_plot.h"
#include "io/checkpoint.h"
#include "io/torch_file_writer.h"
#include "job_controller.h"
#include "main_window.h"
#include "module_details_panel.h"
#include "module_tree_model.h"
#include "rules_panel.h"
#include "scheme_panel.h"
#include "selection_editor.h"
#include "test_support.h"

#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeView>
#include <QUndoStack>

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <fstream>

using namespace qs;
using qs::app::MainWindow;
using qs::ui::ModuleTreeModel;
namespace fs = std::filesystem;

class TestMainWindow : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_demo;

    void openDemo(MainWindow& w)
    {
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(m_demo);
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 20000);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QApplication::setOrganizationName(QStringLiteral("QuantScopeTests"));
        QVERIFY(m_dir.isValid());
        m_demo = m_dir.filePath(QStringLiteral("demo"));
        writeDemoModel(m_demo.toStdString());
    }

    void opensAndShowsTheFirstModule()
    {
        MainWindow w;
        w.show();
        QSignalSpy shown(w.details(), &app::ModuleDetailsPanel::analysisShown);
        openDemo(w);
        QVERIFY(w.model());
        QCOMPARE(w.treeModel()->quantizableCount(), 29);
        QVERIFY(w.windowTitle().startsWith(QStringLiteral("demo")));
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 20000);
        QCOMPARE(shown.at(0).at(0).toString(), QStringLiteral("lm_head.weight"));
        QVERIFY(w.details()->plot()->hasData());

        // Selecting another module analyses its weight.
        QVERIFY(w.selectModule(QStringLiteral("model.layers.2.mlp.up_proj")));
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 2, 20000);
        QCOMPARE(shown.at(1).at(0).toString(), QStringLiteral("model.layers.2.mlp.up_proj.weight"));
        QCOMPARE(w.details()->currentTensor(), QStringLiteral("model.layers.2.mlp.up_proj.weight"));
    }

    void init() { QSettings().clear(); } // no saved keep rules leak from one test into the next

    // The keep editor: a parent's check box becomes a rule that decides its modules (shown in
    // the tree), undo restores the previous state, presets add rules, typed rules and table
    // edits take effect, and the rules come back when the model is opened again.
    void keepRulesEditorWithUndo()
    {
        MainWindow w;
        w.show();
        openDemo(w);
        ModuleTreeModel* tree = w.treeModel();
        QAbstractItemModelTester treeTester(tree, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester rulesTester(
            w.rulesPanel()->table()->model(), QAbstractItemModelTester::FailureReportingMode::QtTest);

        const QModelIndex mlp = tree->indexForPath(QStringLiteral("model.layers.0.mlp"), ModuleTreeModel::KeepColumn);
        QVERIFY(w.treeView()->model()->setData(mlp, Qt::Checked, Qt::CheckStateRole));
        QCOMPARE(tree->keptCount(), 3);
        QCOMPARE(w.selection()->rules().size(), 1u);
        const QModelIndex upRule
            = tree->indexForPath(QStringLiteral("model.layers.0.mlp.up_proj"), ModuleTreeModel::RuleColumn);
        QVERIFY2(upRule.data().toString().contains(QStringLiteral("model.layers.0.mlp")),
            qPrintable(upRule.data().toString()));
        QVERIFY(upRule.data(Qt::ToolTipRole).toString().contains(QStringLiteral("tree")));
        // An exception below the kept parent: one more rule, the parent becomes partially checked.
        const QModelIndex up
            = tree->indexForPath(QStringLiteral("model.layers.0.mlp.up_proj"), ModuleTreeModel::KeepColumn);
        QVERIFY(w.treeView()->model()->setData(up, Qt::Unchecked, Qt::CheckStateRole));
        QCOMPARE(tree->keptCount(), 2);
        QCOMPARE(mlp.data(Qt::CheckStateRole).toInt(), static_cast<int>(Qt::PartiallyChecked));
        QCOMPARE(w.selection()->rules().size(), 2u);

        QUndoStack* undo = w.selection()->undoStack();
        undo->undo();
        QCOMPARE(tree->keptCount(), 3);
        undo->undo();
        QCOMPARE(tree->keptCount(), 0);
        QVERIFY(w.selection()->rules().empty());
        undo->redo();
        QCOMPARE(tree->keptCount(), 3);

        // A preset, then a typed NxD rule with the layers.1 / layers.10 style warning machinery.
        w.selection()->applyPreset(QStringLiteral("attention"));
        QCOMPARE(tree->keptCount(), 3 + 16);
        w.rulesPanel()->syntaxBox()->setCurrentText(QStringLiteral("nxd"));
        w.rulesPanel()->patternEdit()->setText(QStringLiteral("lm_head"));
        QTest::keyClick(w.rulesPanel()->patternEdit(), Qt::Key_Return);
        QCOMPARE(tree->keptCount(), 3 + 16 + 1);
        const QModelIndex head = tree->indexForPath(QStringLiteral("lm_head"), ModuleTreeModel::RuleColumn);
        QVERIFY(head.data().toString().contains(QStringLiteral("keep nxd \"lm_head\"")));
        // Editing the last rule's action in the table: lm_head is quantized again.
        QAbstractItemModel* rules = w.rulesPanel()->table()->model();
        const int last = rules->rowCount() - 1;
        QVERIFY(rules->setData(rules->index(last, 0), QStringLiteral("quantize")));
        QCOMPARE(tree->keptCount(), 3 + 16);
        QCOMPARE(rules->index(last, 3).data().toInt(), 1); // matches one module
        // ... or quantized with a scheme of its own, which the export uses for it.
        QVERIFY(rules->setData(rules->index(last, 0), QStringLiteral("quantize nxd-fp8")));
        const ModuleDecision* headDecision = w.selection()->result().decisionFor(tree->tree().find("lm_head"));
        QVERIFY(headDecision && !headDecision->keep && headDecision->scheme == "nxd-fp8");
        QVERIFY(!rules->setData(rules->index(last, 0), QStringLiteral("quantize no-such-preset")));
        // Selecting a rule highlights what it matches.
        w.rulesPanel()->table()->setCurrentIndex(rules->index(last, 2));
        QVERIFY(tree->indexForPath(QStringLiteral("lm_head")).data(Qt::BackgroundRole).isValid());

        // Filter: only matching rows (and their ancestors) stay visible.
        w.moduleFilter()->setText(QStringLiteral("down_proj"));
        const QModelIndex layers = tree->indexForPath(QStringLiteral("model.layers"));
        QVERIFY(!w.treeView()->isRowHidden(layers.row(), layers.parent()));
        const QModelIndex head0 = tree->indexForPath(QStringLiteral("lm_head"));
        QVERIFY(w.treeView()->isRowHidden(head0.row(), head0.parent()));
        w.moduleFilter()->clear();
        QVERIFY(!w.treeView()->isRowHidden(head0.row(), head0.parent()));

        // The measured preset runs as a job, then keeps the two modules with the lowest SQNR.
        const int before = tree->keptCount();
        Q_EMIT w.rulesPanel()->presetRequested(QStringLiteral("worst:2"));
        QTRY_VERIFY_WITH_TIMEOUT(w.selection()->rules().back().origin.find("worst error") != std::string::npos, 30000);
        QVERIFY(tree->keptCount() > before && tree->keptCount() <= before + 2);

        // The rules are saved with the model and restored when it is opened again.
        const auto saved = w.selection()->rules();
        MainWindow again;
        openDemo(again);
        QCOMPARE(again.selection()->rules(), saved);
        QCOMPARE(again.treeModel()->keptCount(), tree->keptCount());
    }

    void keepOneModuleAndExport()
    {
        MainWindow w;
        w.show();
        openDemo(w);
        const QString kept = QStringLiteral("model.layers.1.self_attn.q_proj");
        // Through the view's model, as a click on the check box does.
        const QModelIndex box = w.treeModel()->indexForPath(kept, ModuleTreeModel::KeepColumn);
        QVERIFY(box.flags() & Qt::ItemIsUserCheckable);
        QVERIFY(w.treeView()->model()->setData(box, Qt::Checked, Qt::CheckStateRole));
        QCOMPARE(w.treeModel()->keptModules(), QStringList { kept });

        const QString out = m_dir.filePath(QStringLiteral("exported"));
        QSignalSpy exported(&w, &MainWindow::exportFinished);
        w.exportTo(out);
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 30000);
        QVERIFY(w.lastError().isEmpty());

        const Checkpoint source = Checkpoint::open(m_demo.toStdString());
        const Checkpoint result = Checkpoint::open(out.toStdString());
        const std::string keptWeight = kept.toStdString() + ".weight";
        QCOMPARE(result.info(keptWeight).dtype, DType::BF16);
        QVERIFY(result.find(kept.toStdString() + ".scale") == nullptr);
        auto bytesOf = [](const Checkpoint& c, const std::string& name) {
            const TensorInfo& t = c.info(name);
            return test::readFile(t.source).substr(t.offset, t.bytes);
        };
        QCOMPARE(bytesOf(result, keptWeight), bytesOf(source, keptWeight));
        for (const char* other : { "model.layers.1.self_attn.k_proj", "model.layers.0.self_attn.q_proj", "lm_head" }) {
            QCOMPARE(result.info(std::string(other) + ".weight").dtype, DType::I8);
            QCOMPARE(result.info(std::string(other) + ".scale").dtype, DType::F32);
        }
        std::ifstream in(fs::path(out.toStdString()) / "modules_to_not_convert.json");
        const auto keep = nlohmann::json::parse(in);
        QCOMPARE(keep["modules_to_not_convert"].get<std::vector<std::string>>(),
            (std::vector<std::string> { "layers.1.self_attn.q_proj" }));
    }

    void exportDialogRefusesAnExistingFolder()
    {
        const QString existing = m_dir.filePath(QStringLiteral("taken"));
        QVERIFY(QDir().mkpath(existing));
        app::ExportDialog dialog(existing, 25, 4, { QStringLiteral("lm_head"), QStringLiteral("layers.3.mlp") });
        dialog.show();
        auto* ok = dialog.findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok);
        QVERIFY(!ok->isEnabled());
        dialog.findChild<QCheckBox*>()->setChecked(true); // replace it
        QVERIFY(ok->isEnabled());
        QVERIFY(dialog.overwrite());
        QCOMPARE(dialog.format(), QStringLiteral("nxd"));
        QCOMPARE(dialog.destination(), existing);
        if (qEnvironmentVariableIsSet("QS_SCREENSHOT_DIR"))
            dialog.grab().save(qEnvironmentVariable("QS_SCREENSHOT_DIR") + QStringLiteral("/export-dialog.png"));
    }

    void errorsAreShownNotFatal()
    {
        MainWindow w;
        w.show();
        QSignalSpy failed(&w, &MainWindow::jobFailed);
        w.openPath(m_dir.filePath(QStringLiteral("no-such-model")));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
        QVERIFY2(w.lastError().contains(QStringLiteral("no such file or folder")), qPrintable(w.lastError()));
        QVERIFY(!w.model());

        openDemo(w);
        QSignalSpy failedExport(&w, &MainWindow::jobFailed);
        w.exportTo(m_demo, /*overwrite=*/true); // onto the input itself
        QTRY_COMPARE_WITH_TIMEOUT(failedExport.count(), 1, 10000);
        QVERIFY2(w.lastError().contains(QStringLiteral("would replace the input")), qPrintable(w.lastError()));
        QVERIFY(Checkpoint::open(m_demo.toStdString()).tensors().size() == 39);
    }

    // A job asked for while another runs is refused by the JobController and shown once.
    void aBusyRefusalIsShownOnce()
    {
        MainWindow w;
        w.show();
        openDemo(w);
        QSignalSpy failed(&w, &MainWindow::jobFailed);
        QSignalSpy measured(&w, &MainWindow::layersMeasured);
        QSignalSpy exported(&w, &MainWindow::exportFinished);
        w.measureLayers(); // runs until the event loop delivers its end
        w.exportTo(m_dir.filePath(QStringLiteral("refused")));
        QCOMPARE(failed.count(), 1);
        QCOMPARE(w.lastError(), QStringLiteral("Wait for \"Measuring layers\" to finish or cancel it first."));
        QTRY_COMPARE_WITH_TIMEOUT(measured.count(), 1, 30000);
        QCOMPARE(failed.count(), 1);
        QCOMPARE(exported.count(), 0);
        QVERIFY(!QFileInfo::exists(m_dir.filePath(QStringLiteral("refused"))));
        QMessageBox* box = nullptr;
        QTRY_VERIFY((box = w.findChild<QMessageBox*>()) != nullptr);
        QCOMPARE(box->windowTitle(), QStringLiteral("Busy"));
        box->close();
    }

    void exportsWithTheSchemePanelsScheme()
    {
        MainWindow w;
        w.show();
        openDemo(w);
        QVERIFY(w.schemePanel()->selectPreset(QStringLiteral("nxd-fp8")));
        const QString out = m_dir.filePath(QStringLiteral("gui-nxd-fp8"));
        QSignalSpy exported(&w, &MainWindow::exportFinished);
        w.exportTo(out);
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 30000);
        const Checkpoint c = Checkpoint::open(out.toStdString());
        QCOMPARE(c.info("model.layers.0.self_attn.q_proj.weight").dtype, DType::F8_E4M3);
        QCOMPARE(c.quantization().kind, std::string("nxd"));
        // compressed-tensors from the GUI: the W4A16 preset gives a pack-quantized checkpoint
        // whose config names the kept module in `ignore`.
        QVERIFY(w.schemePanel()->selectPreset(QStringLiteral("vllm-w4a16")));
        w.selection()->setRules(
            { { RuleSyntax::Module, "lm_head", RuleAction::Keep, {}, "test" } }, QStringLiteral("k"));
        const QString ct = m_dir.filePath(QStringLiteral("gui-ct-w4a16"));
        w.exportTo(ct, false, QStringLiteral("compressed-tensors"));
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 2, 30000);
        QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));
        const Checkpoint packed = Checkpoint::open(ct.toStdString());
        QCOMPARE(packed.quantization().kind, std::string("compressed-tensors"));
        QCOMPARE(packed.info("model.layers.0.self_attn.q_proj.weight_packed").dtype, DType::I32);
        QVERIFY(packed.config()["quantization_config"]["ignore"] == nlohmann::json::array({ "lm_head" }));
        QVERIFY(packed.config()["model_type"] == "llama");

        // The export dialog refuses a scheme the chosen format cannot load, with the reason.
        QVERIFY(w.schemePanel()->selectPreset(QStringLiteral("nxd-int8")));
        app::ExportDialog dialog(m_dir.filePath(QStringLiteral("never")), 25, 4, {}, {}, [&](const QString& format) {
            return format == QStringLiteral("compressed-tensors") ? QStringLiteral("no") : QString();
        });
        auto* ok = dialog.findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok);
        QVERIFY(ok->isEnabled());
        dialog.setFormat(QStringLiteral("compressed-tensors"));
        QVERIFY(!ok->isEnabled());
        // Calibrating needs data: the dialog says so until a file is chosen.
        dialog.setFormat(QStringLiteral("nxd"));
        dialog.setNeedsCalibration(true);
        QVERIFY(!ok->isEnabled());
        dialog.setCalibrationData(m_dir.filePath(QStringLiteral("ids.json")));
        QVERIFY(ok->isEnabled());
        // The algorithms come from the scheme dock; GPTQ's group order needs g_idx (compressed-tensors).
        app::CalibrationChoice grouped;
        grouped.algorithms.gptq = true;
        grouped.algorithms.gptqActOrder = "group";
        grouped.summary = QStringLiteral("GPTQ");
        grouped.data = m_dir.filePath(QStringLiteral("ids.json"));
        dialog.setCalibration(grouped);
        QVERIFY(!ok->isEnabled());
        grouped.algorithms.gptqActOrder = "static";
        dialog.setCalibration(grouped);
        QVERIFY(ok->isEnabled());
        QCOMPARE(dialog.algorithms().gptq, true);

        // The llm-compressor W8A8 recipe with static activations from the GUI: calibration and
        // export in one job, input scales and the recipe that was applied in the checkpoint.
        QString ids = QStringLiteral("[1");
        for (int i = 0; i < 300; ++i)
            ids += QStringLiteral(", %1").arg((i * 37 + 11) % 512);
        test::writeFile(m_dir.filePath(QStringLiteral("ids.json")).toStdString(), (ids + QStringLiteral("]")).toStdString());
        QuantScheme w8a8 = *findSchemePreset("vllm-w8a8-int8");
        w8a8.activations = "int8-tensor-static";
        w.schemePanel()->setScheme(w8a8);
        ExportCalibrationRequest calibration;
        calibration.algorithms.smoothQuant = 0.8;
        calibration.algorithms.gptq = true;
        calibration.data = m_dir.filePath(QStringLiteral("ids.json")).toStdString();
        calibration.samples = 4;
        calibration.seqLen = 64;
        const QString calibrated = m_dir.filePath(QStringLiteral("gui-ct-calibrated"));
        w.exportTo(calibrated, false, QStringLiteral("compressed-tensors"), calibration);
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 3, 60000);
        QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));
        const Checkpoint c8 = Checkpoint::open(calibrated.toStdString());
        QCOMPARE(c8.info("model.layers.0.self_attn.q_proj.input_scale").shape, std::vector<std::int64_t> { 1 });
        const std::string recipe = test::readFile((calibrated + QStringLiteral("/recipe.yaml")).toStdString());
        QVERIFY2(recipe.find("SmoothQuantModifier") != std::string::npos && recipe.find("GPTQModifier") != std::string::npos,
            recipe.c_str());
        // Rotations need no data: fused into the weights in the same job, the norms become ones.
        ExportCalibrationRequest rotation;
        rotation.algorithms.rotation = "hadamard";
        w.schemePanel()->selectPreset(QStringLiteral("nxd-int8"));
        const QString rotated = m_dir.filePath(QStringLiteral("gui-nxd-rotated"));
        w.exportTo(rotated, false, QStringLiteral("nxd"), rotation);
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 4, 60000);
        QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));
        const Checkpoint r = Checkpoint::open(rotated.toStdString());
        QVERIFY(at::equal(r.loadFloat("model.norm.weight"), at::ones({ 256 })));
    }

    void opensPyTorchFilesWithSummaryAndDetailedErrors()
    {
        const QString pt = m_dir.filePath(QStringLiteral("small.pt"));
        {
            const auto values = test::randomNormal(32 * 16, 3);
            TorchFileWriter writer(pt.toStdString(),
                { { "model.layers.0.mlp.up_proj.weight", DType::F32, { 32, 16 }, {} },
                    { "model.layers.0.mlp.up_proj.weight_alias", DType::F32, { 32, 16 },
                        "model.layers.0.mlp.up_proj.weight" } });
            writer.write("model.layers.0.mlp.up_proj.weight", values.data(), values.size() * 4);
            writer.finish();
        }
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(pt);
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 10000);
        const auto* summary = w.findChild<QLabel*>(QStringLiteral("summary"));
        QVERIFY(summary);
        QVERIFY2(summary->text().contains(QStringLiteral("pytorch-zip")), qPrintable(summary->text()));
        QVERIFY2(summary->text().contains(QStringLiteral("1 tied tensor")), qPrintable(summary->text()));
        QVERIFY2(summary->text().contains(QStringLiteral("F32 100%")), qPrintable(summary->text()));

        // A pickle that names os.system: refused, with the file and reason in the dialog's details.
        const QString evil = m_dir.filePath(QStringLiteral("evil.pt"));
        test::writeFile(evil.toStdString(),
            std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02"
                        "cos\nsystem\n.",
                29));
        QSignalSpy failed(&w, &MainWindow::jobFailed);
        w.openPath(evil);
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
        QVERIFY2(w.lastError().contains(QStringLiteral("'os.system'")), qPrintable(w.lastError()));
        QMessageBox* box = nullptr;
        QTRY_VERIFY((box = w.findChild<QMessageBox*>()) != nullptr);
        QVERIFY2(box->detailedText().contains(QStringLiteral("File: ") + evil), qPrintable(box->detailedText()));
        QVERIFY(box->detailedText().contains(QStringLiteral("malformed or unsupported input")));
        box->close();
    }

    // A nanoGPT quantization-fork checkpoint (tests/interop/make_nanogpt_fork.py): its stored
    // activations fill the Activations tab, a QuantizedLinear's Module view overlays the stored
    // codes, and File > Export All Plots writes one image per weight and activation.
    void nanogptForkFiles()
    {
        const QString out = m_dir.filePath(QStringLiteral("fork"));
        QProcess p;
        p.start(QStringLiteral(QS_PYTHON), { QStringLiteral(QS_TESTS_DIR "/interop/make_nanogpt_fork.py"), out });
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        std::ifstream in((out + QStringLiteral("/expected.json")).toStdString());
        const auto expected = nlohmann::json::parse(in);

        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        QSignalSpy stored(&w, &MainWindow::storedActivationsShown);
        w.openPath(out + QStringLiteral("/ckpt.pt"));
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(stored.count(), 1, 20000);
        app::ActivationPanel* activations = w.activationPanel();
        QCOMPARE(activations->pointCount(), static_cast<int>(expected["activations"].size()));
        for (const auto& point : expected["activations"])
            QVERIFY2(activations->pointBox()->findText(QString::fromStdString(point.get<std::string>())) >= 0,
                point.get<std::string>().c_str());
        activations->showPoint(QStringLiteral("transformer.h.1.attn.attn_act_softmax_input"));
        QVERIFY(activations->histogram()->hasData());
        QVERIFY(activations->heatmap()->hasData());

        QSignalSpy shown(w.details(), &app::ModuleDetailsPanel::analysisShown);
        QVERIFY(w.selectModule(QStringLiteral("transformer.h.0.attn.c_attn_k")));
        QTRY_VERIFY_WITH_TIMEOUT(!shown.isEmpty()
                && shown.back().at(0).toString() == QStringLiteral("transformer.h.0.attn.c_attn_k.weight"),
            20000);
        QVERIFY(w.details()->plot()->hasStoredHistogram());
        const auto* metrics = w.details()->findChild<QLabel*>(QStringLiteral("metrics"));
        QVERIFY(metrics);
        QVERIFY2(metrics->text().contains(QStringLiteral("affine_quant 8-bit")), qPrintable(metrics->text()));

        const QString plots = m_dir.filePath(QStringLiteral("fork-plots"));
        QSignalSpy exported(&w, &MainWindow::plotsExported);
        w.exportAllPlots(plots, QStringLiteral("heatmap"), QStringLiteral("re:^transformer\\.h\\.1\\."));
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 60000);
        const int images = exported.at(0).at(1).toInt();
        QCOMPARE(images, 12 + 6 + 6 + 2); // activations, codes, float weights, the two norm gains
        QCOMPARE(QDir(plots).entryList({ QStringLiteral("*_matrix.png") }).size(), images);
        QVERIFY(QFileInfo::exists(plots + QStringLiteral("/transformer.h.1.mlp.c_fc.quantized_weight_matrix.png")));
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
