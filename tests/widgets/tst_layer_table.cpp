// SPDX-License-Identifier: GPL-3.0-or-later
// The layer table: the model passes QAbstractItemModelTester, sorts by raw numbers and flags
// the rows below the thresholds; the view elides long names, activates rows and exports CSV
// with raw numbers and RFC 4180 quoting.
#include "csv_export.h"
#include "layer_table.h"
#include "layer_table_model.h"
#include "stats/layer_error.h"
#include "stats/tensor_statistics.h"

#include <QAbstractItemModelTester>
#include <QDoubleSpinBox>
#include <QFile>
#include <QPushButton>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <limits>

using namespace qs;

namespace {

LayerError makeLayer(int node, const std::string& module, double sqnr, double minCodeStd, std::int64_t outliers)
{
    LayerError e;
    e.node = node;
    e.module = module;
    e.tensor = module + ".weight";
    e.shape = { 64, 32 };
    e.error.count = 64 * 32;
    e.error.sqnrDb = sqnr;
    e.error.mse = std::isfinite(sqnr) ? 1e-4 * std::pow(10.0, -sqnr / 10.0) + 1.234567891e-7 : 0;
    e.error.cosine = 0.999123456;
    e.error.maxAbsError = 0.0123456789;
    e.kurtosis = 3.5 + node;
    e.channels = 64;
    e.outlierChannels = outliers;
    e.minCodeStd = minCodeStd;
    e.narrowChannels = minCodeStd < kNarrowStdThreshold ? 3 : 0;
    return e;
}

std::vector<LayerError> makeLayers()
{
    return {
        makeLayer(4, "model.layers.0.self_attn.q_proj", 35.5, 31.0, 0),
        makeLayer(9, "model.layers.0.mlp.down_proj", 18.25, 12.5, 2),
        makeLayer(2, "model.embed_tokens", std::numeric_limits<double>::infinity(), 40.0, 0),
        makeLayer(12, "model.layers.1.odd,name \"x\"", 25.0, 22.0, 0),
    };
}

template <typename T> T* childWithText(QWidget* parent, const QString& text)
{
    for (auto* w : parent->findChildren<T*>()) {
        if (w->text() == text)
            return w;
    }
    return nullptr;
}

} // namespace

class TestLayerTable : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void layerTableModel()
    {
        ui::LayerTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.columnCount(), int(ui::LayerTableModel::ColumnCount));
        model.setRows(makeLayers());
        QCOMPARE(model.rowCount(), 4);
        QCOMPARE(model.rowOfNode(9), 1);
        QCOMPARE(model.rowOfNode(99), -1);
        QVERIFY(model.row(1) && model.row(1)->node == 9);
        QVERIFY(!model.row(4));

        const QModelIndex lowSqnr = model.index(1, ui::LayerTableModel::SqnrColumn);
        const QModelIndex goodSqnr = model.index(0, ui::LayerTableModel::SqnrColumn);
        QCOMPARE(lowSqnr.data(Qt::DisplayRole).toString(), QStringLiteral("18.25"));
        QCOMPARE(lowSqnr.data(Qt::EditRole).toDouble(), 18.25);
        QCOMPARE(lowSqnr.data(ui::LayerTableModel::SortRole).toDouble(), 18.25);
        QVERIFY(!lowSqnr.data(Qt::BackgroundRole).isNull());
        QVERIFY(goodSqnr.data(Qt::BackgroundRole).isNull());
        QVERIFY(!model.index(1, ui::LayerTableModel::MinCodeStdColumn).data(Qt::BackgroundRole).isNull());
        QVERIFY(model.index(0, ui::LayerTableModel::MinCodeStdColumn).data(Qt::BackgroundRole).isNull());
        QVERIFY(!model.index(1, ui::LayerTableModel::OutlierChannelsColumn).data(Qt::BackgroundRole).isNull());
        QVERIFY(model.index(0, ui::LayerTableModel::OutlierChannelsColumn).data(Qt::BackgroundRole).isNull());
        QCOMPARE(model.index(2, ui::LayerTableModel::SqnrColumn).data().toString(), QStringLiteral("∞"));
        QCOMPARE(model.index(0, ui::LayerTableModel::ModuleColumn).data(Qt::ToolTipRole).toString(),
            QStringLiteral("model.layers.0.self_attn.q_proj\nmeasured on model.layers.0.self_attn.q_proj.weight"));
        QVERIFY(!model.headerData(ui::LayerTableModel::SqnrColumn, Qt::Horizontal, Qt::ToolTipRole).isNull());
        QCOMPARE(model.index(0, ui::LayerTableModel::ShapeColumn).data().toString(), QStringLiteral("64 × 32"));

        // The SQNR threshold moves the flags.
        model.setSqnrThreshold(40);
        QVERIFY(!goodSqnr.data(Qt::BackgroundRole).isNull());
        model.setSqnrThreshold(30);
        QVERIFY(goodSqnr.data(Qt::BackgroundRole).isNull());
        model.setStdThreshold(10);
        QVERIFY(model.index(1, ui::LayerTableModel::MinCodeStdColumn).data(Qt::BackgroundRole).isNull());
        model.setStdThreshold(kNarrowStdThreshold);

        // Kept modules are marked and no longer flagged.
        model.setKept({ QStringLiteral("model.layers.0.mlp.down_proj") });
        QVERIFY(model.isKept(1));
        QCOMPARE(model.index(1, ui::LayerTableModel::KeptColumn).data(Qt::EditRole).toBool(), true);
        QCOMPARE(model.index(0, ui::LayerTableModel::KeptColumn).data(Qt::EditRole).toBool(), false);
        QVERIFY(lowSqnr.data(Qt::BackgroundRole).isNull());
        QVERIFY(!lowSqnr.data(Qt::ForegroundRole).isNull());
        model.setKept({});
        QVERIFY(!lowSqnr.data(Qt::BackgroundRole).isNull());

        // Sorting by the raw SQNR: the worst first, infinity last.
        QSortFilterProxyModel proxy;
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        proxy.setSourceModel(&model);
        proxy.setSortRole(ui::LayerTableModel::SortRole);
        proxy.sort(ui::LayerTableModel::SqnrColumn, Qt::AscendingOrder);
        QCOMPARE(proxy.index(0, ui::LayerTableModel::ModuleColumn).data().toString(),
            QStringLiteral("model.layers.0.mlp.down_proj"));
        QCOMPARE(
            proxy.index(3, ui::LayerTableModel::ModuleColumn).data().toString(), QStringLiteral("model.embed_tokens"));
        proxy.sort(ui::LayerTableModel::ModuleColumn, Qt::AscendingOrder); // tree order
        QCOMPARE(proxy.index(0, ui::LayerTableModel::ModuleColumn).data(ui::LayerTableModel::NodeRole).toInt(), 2);

        model.setRows({});
        QCOMPARE(proxy.rowCount(), 0);
        model.setRows(makeLayers());
        QCOMPARE(proxy.rowCount(), 4);

        // Suggest's sensitivity: a value where measured, a dash elsewhere, sorting by it.
        const QString first = model.index(0, ui::LayerTableModel::ModuleColumn).data().toString();
        model.setSensitivity({ { first, 0.25 } });
        QCOMPARE(model.index(0, ui::LayerTableModel::SensitivityColumn).data(ui::LayerTableModel::SortRole).toDouble(), 0.25);
        QCOMPARE(model.index(1, ui::LayerTableModel::SensitivityColumn).data().toString(), QStringLiteral("—"));
        QVERIFY(std::isinf(model.index(1, ui::LayerTableModel::SensitivityColumn).data(ui::LayerTableModel::SortRole).toDouble()));
        model.setRows(makeLayers()); // survives new rows
        QCOMPARE(model.index(0, ui::LayerTableModel::SensitivityColumn).data(ui::LayerTableModel::SortRole).toDouble(), 0.25);
    }

    void csvExport()
    {
        QCOMPARE(ui::csvField(QStringLiteral("plain")), QStringLiteral("plain"));
        QCOMPARE(ui::csvField(QStringLiteral("a,b")), QStringLiteral("\"a,b\""));
        QCOMPARE(ui::csvField(QStringLiteral("say \"hi\"")), QStringLiteral("\"say \"\"hi\"\"\""));
        QCOMPARE(ui::csvField(QStringLiteral("two\nlines")), QStringLiteral("\"two\nlines\""));

        ui::LayerTableModel model;
        const std::vector<LayerError> layers = makeLayers();
        model.setRows(layers);
        model.setKept({ QStringLiteral("model.embed_tokens") });
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("layers.csv"));
        QString error;
        QVERIFY2(ui::saveTableAsCsv(&model, path, &error), qPrintable(error));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(file.readAll());
        QStringList lines = text.split(QStringLiteral("\r\n"));
        QCOMPARE(lines.size(), 6); // header, 4 rows, the empty piece after the last CRLF
        QVERIFY(lines.last().isEmpty());
        QCOMPARE(lines[0],
            QStringLiteral("Module,Shape,Kept,MSE,SQNR (dB),Cosine,Max |error|,Kurtosis,Outlier channels,"
                           "Min code std,Narrow channels,Output error,Calibrated error,GPTQ loss,Sensitivity (KL)"));
        QVERIFY2(lines[4].startsWith(QStringLiteral("\"model.layers.1.odd,name \"\"x\"\"\",64x32,false,")),
            qPrintable(lines[4]));
        QVERIFY(lines[3].startsWith(QStringLiteral("model.embed_tokens,64x32,true,")));

        const QStringList row = lines[2].split(QLatin1Char(','));
        QCOMPARE(row.size(), int(ui::LayerTableModel::ColumnCount));
        bool ok = false;
        const double mse = row[ui::LayerTableModel::MseColumn].toDouble(&ok);
        QVERIFY(ok);
        QVERIFY(std::fabs(mse - layers[1].error.mse) <= 1e-9 * layers[1].error.mse);
        QCOMPARE(row[ui::LayerTableModel::SqnrColumn].toDouble(), 18.25);
        QCOMPARE(row[ui::LayerTableModel::CosineColumn], QStringLiteral("0.999123456"));
        QCOMPARE(row[ui::LayerTableModel::MaxErrorColumn], QStringLiteral("0.0123456789"));
        QCOMPARE(row[ui::LayerTableModel::OutlierChannelsColumn], QStringLiteral("2"));
        QCOMPARE(row[ui::LayerTableModel::MinCodeStdColumn].toDouble(), 12.5);

        QVERIFY(!ui::saveTableAsCsv(&model, dir.filePath(QStringLiteral("missing/x.csv")), &error));
        QVERIFY(!error.isEmpty());
        QVERIFY(ui::csvFileFilter().contains(QStringLiteral("*.csv")));
    }

    void layerTable()
    {
        ui::LayerTable table;
        table.resize(900, 400);
        table.show();
        QVERIFY(QTest::qWaitForWindowExposed(&table));
        QSignalSpy activated(&table, &ui::LayerTable::moduleActivated);
        QSignalSpy measure(&table, &ui::LayerTable::measureRequested);
        table.setRows(makeLayers());
        QCOMPARE(table.view()->textElideMode(), Qt::ElideMiddle);
        QCOMPARE(table.proxy()->sortRole(), int(ui::LayerTableModel::SortRole));
        QCOMPARE(table.proxy()->index(0, 0).data().toString(), QStringLiteral("model.layers.0.mlp.down_proj"));

        const QModelIndex second = table.proxy()->index(1, ui::LayerTableModel::SqnrColumn);
        QTest::mouseClick(table.view()->viewport(), Qt::LeftButton, {}, table.view()->visualRect(second).center());
        QTRY_VERIFY(activated.count() >= 1);
        QCOMPARE(activated.last().first().toInt(), 12); // SQNR 25
        QVERIFY(table.selectNode(4));
        QVERIFY(!table.selectNode(99));

        childWithText<QPushButton>(&table, QStringLiteral("Measure"))->click();
        QCOMPARE(measure.count(), 1);
        table.setSqnrThreshold(20);
        QCOMPARE(table.model()->sqnrThreshold(), 20.0);
        table.setStatus(QStringLiteral("measured 4 modules"));

        QTemporaryDir dir;
        QString error;
        const QString path = dir.filePath(QStringLiteral("table.csv"));
        QVERIFY2(table.exportCsv(path, &error), qPrintable(error));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = file.readAll().split('\n');
        QVERIFY(lines.at(1).startsWith("model.layers.0.mlp.down_proj,")); // in the table's order
    }
};

QTEST_MAIN(TestLayerTable)
#include "tst_layer_table.moc"
