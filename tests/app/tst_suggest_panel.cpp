// SPDX-License-Identifier: GPL-3.0-or-later
// The Suggest tab in the real main window on stories260K: a run as a job applies its keep set as
// "suggested" rules (one undo step), fills the layer table's sensitivity column, the curve and
// the bar chart; a click on a curve point applies that point's keep set; the curve exports as
// CSV; a bad budget is refused with the field named.
#include "layer_table.h"
#include "layer_table_model.h"
#include "main_window.h"
#include "qcustomplot_include.h"
#include "sensitivity_chart.h"
#include "scheme_panel.h"
#include "selection_editor.h"
#include "suggest_panel.h"
#include "suggestion_view.h"
#include "eval_panel.h"

#include <QApplication>
#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>

using qs::app::MainWindow;

namespace {

const QString kModels = QStringLiteral(QS_SHARED_MODELS_DIR);

int keptCount(const MainWindow& w)
{
    return static_cast<int>(w.selection()->keptModules().size());
}

} // namespace

class TestSuggestPanel : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void initTestCase() { QApplication::setOrganizationName(QStringLiteral("QuantScopeTests")); }
    void init() { QSettings().clear(); }

    void suggestAppliesRulesAndThePlotsFollow()
    {
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(kModels + QStringLiteral("/stories260K/stories260K.bin"));
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 20000);
        QVERIFY(w.schemePanel()->selectPreset(QStringLiteral("vllm-w4a16")));
        w.evalPanel()->setDataFile(kModels + QStringLiteral("/stories260K/tinystories_valid_sample10.txt"));
        w.evalPanel()->setSeqLen(128);
        const int before = keptCount(w);

        // A budget that does not parse: an error naming it, no job.
        QSignalSpy failed(&w, &MainWindow::jobFailed);
        w.suggestPanel()->setBudget(qs::BudgetKind::Size, QStringLiteral("lots"));
        QSignalSpy suggested(&w, &MainWindow::suggested);
        w.suggest();
        QCOMPARE(suggested.count(), 0);
        QCOMPARE(failed.count(), 1);
        QVERIFY(failed.front().front().toString().contains(QStringLiteral("budget")));

        w.suggestPanel()->setBudget(qs::BudgetKind::PerplexityIncrease, QStringLiteral("3%"));
        w.suggest();
        QTRY_COMPARE_WITH_TIMEOUT(suggested.count(), 1, 60000);
        QVERIFY(w.suggestPanel()->result().contains(QStringLiteral("meets")));
        // The rules are the suggestion's, one step to undo.
        const auto& rules = w.selection()->rules();
        QVERIFY(!rules.empty());
        for (const auto& r : rules)
            QCOMPARE(QString::fromStdString(r.origin), QStringLiteral("suggested"));
        const int kept = keptCount(w);
        QVERIFY(kept > 0 && kept < 35);
        w.selection()->undoStack()->undo();
        QCOMPARE(keptCount(w), before);
        w.selection()->undoStack()->redo();
        QCOMPARE(keptCount(w), kept);

        // The layer table's column, the bar chart and the curve.
        qs::ui::LayerTableModel* model = w.analysisTabs()->findChild<qs::ui::LayerTable*>()->model();
        qs::ui::SuggestionView* view = w.suggestPanel()->view();
        QCOMPARE(view->sensitivityChart()->shown().size(), std::size_t(24));
        QVERIFY(view->sensitivityChart()->shown().front().second >= view->sensitivityChart()->shown().back().second);
        qs::ui::LayerTable* table = w.analysisTabs()->findChild<qs::ui::LayerTable*>();
        QVERIFY(!table->sensitivityChart()->isHidden());
        QCOMPARE(table->sensitivityChart()->shown().front(), view->sensitivityChart()->shown().front());
        QCOMPARE(view->points().size(), std::size_t(5 * 4 + 1)); // q/k/v and gate/up fused for vLLM
        QVERIFY(view->selected() >= 0);
        QVERIFY(model->headerData(qs::ui::LayerTableModel::SensitivityColumn, Qt::Horizontal).toString().contains(
            QStringLiteral("Sensitivity")));
        if (model->rowCount() > 0) {
            QVERIFY(model->data(model->index(0, qs::ui::LayerTableModel::SensitivityColumn),
                               qs::ui::LayerTableModel::SortRole).isValid());
        }

        // A click on the first point: everything quantized (nothing of the layers kept).
        Q_EMIT view->pointClicked(0);
        QCOMPARE(keptCount(w), 0);
        QCOMPARE(view->selected(), 0);
        Q_EMIT view->pointClicked(2);
        QVERIFY(keptCount(w) >= 2); // two units: a fused group or a single module each
        w.selection()->undoStack()->undo();
        QCOMPARE(keptCount(w), 0);

        const QString csv = m_dir.filePath(QStringLiteral("curve.csv"));
        QString error;
        QVERIFY2(view->exportCurveCsv(csv, &error), qPrintable(error));
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        QCOMPARE(lines.size(), 5 * 4 + 2);
        QVERIFY(lines.front().startsWith("kept,bytes,bits,perplexity"));
        QCOMPARE(failed.count(), 1);
    }
};

QTEST_MAIN(TestSuggestPanel)
#include "tst_suggest_panel.moc"
