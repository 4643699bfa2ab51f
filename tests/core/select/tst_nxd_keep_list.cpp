// SPDX-License-Identifier: GPL-3.0-or-later
// NxD modules_to_not_convert: substring matching on full module names, and the compact
// partial-name list QuantScope writes for a set of kept modules.
#include "model/module_tree.h"
#include "select/nxd_keep_list.h"
#include "test_support.h"

#include <QTest>

using namespace qs;

namespace {

ModuleTree llama(int layers)
{
    return ModuleTree::build(test::llamaTensorInfos(layers, 4), "llama");
}

std::set<std::string> paths(const ModuleTree& tree, const std::set<int>& nodes)
{
    std::set<std::string> out;
    for (int n : nodes)
        out.insert(tree.node(n).path);
    return out;
}

std::set<int> nodes(const ModuleTree& tree, const std::vector<std::string>& paths)
{
    std::set<int> out;
    for (const auto& p : paths)
        out.insert(tree.find(p));
    return out;
}

} // namespace

class TestNxdKeepList : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void substringSemantics()
    {
        const ModuleTree tree = llama(12);
        const auto r = resolveNxdKeepList(tree, { "layers.1.mlp" });
        QCOMPARE(r.kept.size(), 3u); // "layers.1.mlp" is not a substring of "layers.11.mlp"
        QVERIFY(paths(tree, r.kept).count("model.layers.11.mlp.up_proj") == 0);

        const auto ambiguous = resolveNxdKeepList(tree, { "layers.1" });
        QCOMPARE(ambiguous.kept.size(), 3u * 7); // layers.1, layers.10, layers.11
        QVERIFY(paths(tree, ambiguous.kept).count("model.layers.10.self_attn.q_proj"));

        const auto exact = resolveNxdKeepList(tree, { "layers.1." });
        QCOMPARE(exact.kept.size(), 7u);

        const auto unmatched = resolveNxdKeepList(tree, { "lm_head", "vision_tower", "" });
        QCOMPARE(unmatched.kept.size(), 1u);
        QCOMPARE(unmatched.unmatched, (std::vector<std::string> { "vision_tower", "" }));
    }

    void sourceDocumentListsAgree()
    {
        // The NxD custom-quantization document's 4-layer Llama example: its partial-name list
        // (NxD) and its full-name list (llm-compressor) keep the same modules.
        const ModuleTree tree = llama(4);
        const auto partial = resolveNxdKeepList(tree,
            { "lm_head", "layers.0.self_attn", "layers.1.self_attn", "layers.2.self_attn", "layers.3.self_attn",
                "layers.0.mlp", "layers.3.mlp" });
        std::vector<std::string> full = { "lm_head" };
        for (int l : { 0, 3 })
            for (const char* m : { "down_proj", "gate_proj", "up_proj" })
                full.push_back("model.layers." + std::to_string(l) + ".mlp." + m);
        for (int l = 0; l < 4; ++l)
            for (const char* m : { "k_proj", "o_proj", "q_proj", "v_proj" })
                full.push_back("model.layers." + std::to_string(l) + ".self_attn." + m);
        const auto fullNames = resolveNxdKeepList(tree, full);
        QCOMPARE(paths(tree, partial.kept), paths(tree, fullNames.kept));
        QCOMPARE(partial.kept.size(), 1u + 6 + 16);
    }

    void compactList_data()
    {
        QTest::addColumn<QStringList>("kept");
        QTest::addColumn<QStringList>("expected");
        auto attn = [](int l) {
            QStringList out;
            for (const char* m : { "q_proj", "k_proj", "v_proj", "o_proj" })
                out << QStringLiteral("model.layers.%1.self_attn.%2").arg(l).arg(QLatin1String(m));
            return out;
        };
        auto mlp = [](int l) {
            QStringList out;
            for (const char* m : { "gate_proj", "up_proj", "down_proj" })
                out << QStringLiteral("model.layers.%1.mlp.%2").arg(l).arg(QLatin1String(m));
            return out;
        };
        QTest::newRow("nothing") << QStringList() << QStringList();
        QTest::newRow("lm_head") << QStringList { "lm_head" } << QStringList { "lm_head" };
        QTest::newRow("one attention block") << attn(1) << QStringList { "layers.1.self_attn" };
        QTest::newRow("whole layer names its blocks")
            << (attn(10) + mlp(10)) << QStringList { "layers.10.mlp", "layers.10.self_attn" };
        QTest::newRow("one projection") << QStringList { "model.layers.1.self_attn.q_proj" }
                                        << QStringList { "layers.1.self_attn.q_proj" };
        QTest::newRow("document strategy")
            << (QStringList { "lm_head" } + attn(0) + attn(1) + mlp(0) + mlp(11))
            << QStringList { "lm_head", "layers.0.mlp", "layers.0.self_attn", "layers.1.self_attn", "layers.11.mlp" };
    }

    void compactList()
    {
        QFETCH(QStringList, kept);
        QFETCH(QStringList, expected);
        const ModuleTree tree = llama(12);
        std::vector<std::string> keptPaths;
        for (const auto& k : kept)
            keptPaths.push_back(k.toStdString());
        const std::set<int> keptNodes = nodes(tree, keptPaths);
        const auto list = compactNxdKeepList(tree, keptNodes);
        QStringList got;
        for (const auto& n : list)
            got << QString::fromStdString(n);
        QCOMPARE(got, expected);
        // Whatever the list, NxD's own matching must keep exactly the chosen modules.
        QCOMPARE(resolveNxdKeepList(tree, list).kept, keptNodes);
    }
};

QTEST_GUILESS_MAIN(TestNxdKeepList)
#include "tst_nxd_keep_list.moc"
