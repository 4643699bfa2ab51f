// SPDX-License-Identifier: GPL-3.0-or-later
// The module tree model: structure checked by QAbstractItemModelTester, tri-state keep
// column, and the kept list it reports.
#include "model/module_tree.h"
#include "module_tree_model.h"
#include "test_support.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace qs;
using qs::ui::ModuleTreeModel;

namespace {

ModuleTree llama(int layers)
{
    return ModuleTree::build(test::llamaTensorInfos(layers, 16), "llama");
}

} // namespace

class TestModuleTreeModel : public QObject
{
    Q_OBJECT

private:
    static Qt::CheckState state(const ModuleTreeModel& m, const char* path)
    {
        return static_cast<Qt::CheckState>(
            m.indexForPath(QString::fromLatin1(path), ModuleTreeModel::KeepColumn).data(Qt::CheckStateRole).toInt());
    }
    static bool check(ModuleTreeModel& m, const char* path, Qt::CheckState s)
    {
        return m.setData(m.indexForPath(QString::fromLatin1(path), ModuleTreeModel::KeepColumn), s, Qt::CheckStateRole);
    }

private Q_SLOTS:
    void structureIsValid()
    {
        ModuleTreeModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setTree(llama(3));
        QCOMPARE(model.rowCount(), 2); // lm_head, model
        const QModelIndex layers = model.indexForPath(QStringLiteral("model.layers"));
        QCOMPARE(model.rowCount(layers), 3);
        QCOMPARE(model.index(2, 0, layers).data().toString(), QStringLiteral("2"));
        QCOMPARE(model.indexForPath(QStringLiteral("model.layers.2.mlp.up_proj")).parent().parent(),
            model.indexForPath(QStringLiteral("model.layers.2")));
        QCOMPARE(model.indexForPath(QStringLiteral("model.layers.0.self_attn.q_proj"), ModuleTreeModel::ShapeColumn)
                     .data()
                     .toString(),
            QStringLiteral("16 × 16"));
        QCOMPARE(model.indexForPath(QStringLiteral("model.layers.0.self_attn.q_proj"), ModuleTreeModel::KindColumn)
                     .data()
                     .toString(),
            QStringLiteral("linear"));
        // Norms and embeddings have nothing to keep: no check box.
        QVERIFY(!model.indexForPath(QStringLiteral("model.norm"), ModuleTreeModel::KeepColumn)
                     .data(Qt::CheckStateRole)
                     .isValid());
        QVERIFY(!(model.flags(model.indexForPath(QStringLiteral("model.embed_tokens"), ModuleTreeModel::KeepColumn))
            & Qt::ItemIsUserCheckable));
        model.setTree(llama(1)); // a reset under the tester
        QCOMPARE(model.rowCount(model.indexForPath(QStringLiteral("model.layers"))), 1);
    }

    void parentsAreTriState()
    {
        ModuleTreeModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setTree(llama(2));
        QSignalSpy changed(&model, &ModuleTreeModel::keepChanged);
        QSignalSpy data(&model, &QAbstractItemModel::dataChanged);

        QVERIFY(check(model, "model.layers.1.self_attn.q_proj", Qt::Checked));
        QCOMPARE(changed.count(), 1);
        QVERIFY(data.count() >= 4); // the module and its ancestors
        QCOMPARE(state(model, "model.layers.1.self_attn.q_proj"), Qt::Checked);
        QCOMPARE(state(model, "model.layers.1.self_attn"), Qt::PartiallyChecked);
        QCOMPARE(state(model, "model.layers.1"), Qt::PartiallyChecked);
        QCOMPARE(state(model, "model.layers.0"), Qt::Unchecked);

        QVERIFY(check(model, "model.layers.1.self_attn", Qt::Checked));
        QCOMPARE(state(model, "model.layers.1.self_attn"), Qt::Checked);
        QCOMPARE(model.keptCount(), 4);

        QVERIFY(check(model, "model.layers.1", Qt::Checked));
        QCOMPARE(state(model, "model.layers.1"), Qt::Checked);
        QCOMPARE(model.keptCount(), 7);
        QCOMPARE(state(model, "model"), Qt::PartiallyChecked);

        QVERIFY(check(model, "model.layers.1.mlp", Qt::Unchecked));
        QCOMPARE(state(model, "model.layers.1"), Qt::PartiallyChecked);
        QCOMPARE(model.keptModules(),
            (QStringList { "model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.o_proj",
                "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj" }));

        QVERIFY(!check(model, "model.norm", Qt::Checked));
        QVERIFY(!model.setData(model.indexForPath(QStringLiteral("lm_head")), Qt::Checked, Qt::CheckStateRole));
    }

    void setKeptModulesReplacesTheSelection()
    {
        ModuleTreeModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setTree(llama(2));
        model.setKeptModules({ "lm_head", "model.layers.0.mlp.down_proj", "no.such.module" });
        QCOMPARE(model.keptModules(), (QStringList { "lm_head", "model.layers.0.mlp.down_proj" }));
        QCOMPARE(model.keptCount(), 2);
        QCOMPARE(model.quantizableCount(), 15);
        QVERIFY(model.indexForPath(QStringLiteral("lm_head")).data(Qt::BackgroundRole).isValid());
        model.setKeptModules({});
        QCOMPARE(model.keptCount(), 0);
        QCOMPARE(state(model, "model"), Qt::Unchecked);
    }
};

QTEST_MAIN(TestModuleTreeModel)
#include "tst_module_tree_model.moc"
