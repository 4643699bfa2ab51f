// SPDX-License-Identifier: GPL-3.0-or-later
// The module tree: natural order, kinds, counts and lookups, from tensor names alone.
#include "model/module_tree.h"
#include "model/natural_order.h"
#include "test_support.h"

#include <QTest>

#include <algorithm>
#include <random>

using namespace qs;

namespace {

TensorInfo tensor(const std::string& name, std::vector<std::int64_t> shape, DType dtype = DType::BF16)
{
    TensorInfo t;
    t.name = name;
    t.shape = std::move(shape);
    t.dtype = dtype;
    t.bytes = static_cast<std::uint64_t>(t.numel()) * dtypeSize(dtype);
    return t;
}

std::vector<TensorInfo> llama(int layers, unsigned shuffleSeed)
{
    std::vector<TensorInfo> out = test::llamaTensorInfos(layers, 8);
    std::mt19937 rng(shuffleSeed);
    std::shuffle(out.begin(), out.end(), rng);
    return out;
}

std::vector<std::string> childNames(const ModuleTree& tree, int node)
{
    std::vector<std::string> out;
    for (int c : tree.node(node).children)
        out.push_back(tree.node(c).name);
    return out;
}

} // namespace

class TestModuleTree : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void naturalOrder_data()
    {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::newRow("numbers") << "layers.2"
                                 << "layers.10";
        QTest::newRow("prefix") << "layers"
                                << "layers.0";
        QTest::newRow("letters") << "k_proj"
                                 << "q_proj";
        QTest::newRow("inner numbers") << "h.9.attn"
                                       << "h.10.attn";
        QTest::newRow("leading zeros tie") << "x7"
                                           << "x07";
        QTest::newRow("digit vs letter") << "a1"
                                         << "ab";
        QTest::newRow("big numbers") << "w99999999999999999999"
                                     << "w100000000000000000000";
    }

    void naturalOrder()
    {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QVERIFY(naturalLess(a.toStdString(), b.toStdString()));
        QVERIFY(!naturalLess(b.toStdString(), a.toStdString()));
        QVERIFY(!naturalLess(a.toStdString(), a.toStdString()));
    }

    void layersInNaturalOrderWhateverTheInputOrder()
    {
        for (unsigned seed : { 1u, 2u, 3u }) {
            const ModuleTree tree = ModuleTree::build(llama(12, seed), "llama");
            const int layers = tree.find("model.layers");
            QVERIFY(layers > 0);
            std::vector<std::string> expected;
            for (int i = 0; i < 12; ++i)
                expected.push_back(std::to_string(i));
            QCOMPARE(childNames(tree, layers), expected);
            QCOMPARE(childNames(tree, tree.root()), (std::vector<std::string> { "lm_head", "model" }));
            QCOMPARE(childNames(tree, tree.find("model.layers.3.self_attn")),
                (std::vector<std::string> { "k_proj", "o_proj", "q_proj", "v_proj" }));
            QCOMPARE(tree.node(tree.quantizable().front()).path, std::string("lm_head"));
            QCOMPARE(tree.node(tree.quantizable()[1]).path, std::string("model.layers.0.mlp.down_proj"));
        }
    }

    void kindsAndCounts()
    {
        const ModuleTree tree = ModuleTree::build(llama(2, 5), "llama");
        auto kind = [&](const char* path) { return tree.node(tree.find(path)).kind; };
        QCOMPARE(kind("model.embed_tokens"), ModuleKind::Embedding);
        QCOMPARE(kind("model.norm"), ModuleKind::Norm);
        QCOMPARE(kind("model.layers.0.input_layernorm"), ModuleKind::Norm);
        QCOMPARE(kind("model.layers.0.self_attn.q_proj"), ModuleKind::Linear);
        QCOMPARE(kind("lm_head"), ModuleKind::Linear);
        QCOMPARE(kind("model.layers.1"), ModuleKind::Container);
        QCOMPARE(tree.quantizable().size(), 2u * 7 + 1);
        QCOMPARE(tree.node(tree.root()).quantizableCount, 15);
        QCOMPARE(tree.node(tree.find("model.layers.1.mlp")).quantizableCount, 3);
        QCOMPARE(tree.node(tree.find("model.layers.1.mlp")).parameterCount, std::int64_t(3 * 64));
        QCOMPARE(tree.node(tree.root()).parameterCount, std::int64_t(2 * 64 + 8 + 2 * (7 * 64 + 2 * 8)));
        QCOMPARE(tree.moduleOfTensor("model.layers.1.mlp.up_proj.weight"), tree.find("model.layers.1.mlp.up_proj"));
        QCOMPARE(tree.node(tree.find("model.layers.1.mlp.up_proj")).weightShape, (std::vector<std::int64_t> { 8, 8 }));
        QCOMPARE(tree.find("model.layers.9"), -1);
    }

    void gpt2Conv1DIsATransposedLinear()
    {
        const std::vector<TensorInfo> t = { tensor("transformer.h.0.attn.c_attn.weight", { 8, 24 }),
            tensor("transformer.h.0.attn.c_attn.bias", { 24 }), tensor("transformer.h.0.attn.bias", { 1, 1, 4, 4 }),
            tensor("transformer.wte.weight", { 50, 8 }), tensor("transformer.ln_f.weight", { 8 }) };
        const ModuleTree gpt2 = ModuleTree::build(t, "gpt2");
        QCOMPARE(gpt2.node(gpt2.find("transformer.h.0.attn.c_attn")).kind, ModuleKind::Conv1D);
        QCOMPARE(gpt2.node(gpt2.find("transformer.wte")).kind, ModuleKind::Embedding);
        QCOMPARE(gpt2.node(gpt2.find("transformer.ln_f")).kind, ModuleKind::Norm);
        // a module holding a buffer of its own and a child module
        QCOMPARE(gpt2.node(gpt2.find("transformer.h.0.attn")).tensors,
            (std::vector<std::string> { "transformer.h.0.attn.bias" }));
        // Quantizable like a Linear, shown as its [out, in] transpose.
        const int cAttn = gpt2.find("transformer.h.0.attn.c_attn");
        QCOMPARE(gpt2.quantizable(), std::vector<int> { cAttn });
        QVERIFY(gpt2.isTransposed(cAttn));
        QCOMPARE(gpt2.node(cAttn).weightShape, (std::vector<std::int64_t> { 24, 8 }));
        QCOMPARE(gpt2.node(gpt2.find("transformer.h.0")).quantizableCount, 1);
        const ModuleTree nanogpt = ModuleTree::build(t, "");
        QCOMPARE(nanogpt.node(nanogpt.find("transformer.h.0.attn.c_attn")).kind, ModuleKind::Linear);
    }

    void oddNames()
    {
        const std::vector<TensorInfo> t = { tensor("wcls", { 4, 4 }),
            tensor("already.quantized.weight", { 4, 4 }, DType::I8), tensor("scalar_step", {}) };
        const ModuleTree tree = ModuleTree::build(t);
        QCOMPARE(tree.node(tree.find("wcls")).tensors, (std::vector<std::string> { "wcls" }));
        QCOMPARE(tree.node(tree.find("already.quantized")).kind, ModuleKind::Other);
        QVERIFY(tree.quantizable().empty());
        // Stored quantized Linears (NxD, compressed-tensors packed, fp8) are recognised, never re-quantized.
        const ModuleTree q = ModuleTree::build({ tensor("a.weight", { 4, 4 }, DType::I8), tensor("a.scale", { 4, 1 }),
            tensor("b.weight_packed", { 4, 1 }, DType::I32), tensor("b.weight_scale", { 4, 1 }),
            tensor("c.weight", { 4, 4 }, DType::F8_E4M3), tensor("c.weight_scale", { 1 }) });
        for (const char* m : { "a", "b", "c" })
            QCOMPARE(q.node(q.find(m)).kind, ModuleKind::QuantizedLinear);
        QVERIFY(q.quantizable().empty());
        const ModuleTree empty = ModuleTree::build({});
        QCOMPARE(empty.size(), 1);
        QVERIFY(empty.descendants(empty.root()).empty());
    }
};

QTEST_GUILESS_MAIN(TestModuleTree)
#include "tst_module_tree.moc"
