// SPDX-License-Identifier: GPL-3.0-or-later
// The real stories260K model (llama2.c format, ../shared/models) through the Checkpoint facade:
// it opens from its file or its folder, with Llama names, the documented shapes, an implied
// config, its tokenizer, and tensor views over the file's bytes.
#include "io/checkpoint.h"
#include "model/module_tree.h"
#include "test_support.h"

#include <QTest>

#include <ATen/ATen.h>

#include <cstring>

using namespace qs;
namespace fs = std::filesystem;

class TestSharedModels : public QObject
{
    Q_OBJECT

private:
    const fs::path m_folder = fs::path(QS_SHARED_MODELS_DIR) / "stories260K";

private Q_SLOTS:
    void init()
    {
        if (!fs::exists(m_folder / "stories260K.bin"))
            QTest::qSkip("../shared/models/stories260K is not present on this machine", __FILE__, __LINE__);
    }

    void opensFromFileAndFolder_data()
    {
        QTest::addColumn<QString>("path");
        QTest::newRow("file") << QString::fromStdString((m_folder / "stories260K.bin").string());
        QTest::newRow("folder") << QString::fromStdString(m_folder.string());
    }
    void opensFromFileAndFolder()
    {
        QFETCH(QString, path);
        const Checkpoint c = Checkpoint::open(path.toStdString());
        QCOMPARE(c.format(), std::string("llama2c"));
        QCOMPARE(c.layout(), std::string("legacy"));
        QCOMPARE(c.tensors().size(), std::size_t(47));
        QCOMPARE(c.parameterCount(), std::int64_t(260032));
        QCOMPARE(c.modelType(), std::string("llama"));
        QCOMPARE(c.config().at("hidden_size").get<int>(), 64);
        QCOMPARE(c.config().at("num_key_value_heads").get<int>(), 4);
        QVERIFY(c.config().at("tie_word_embeddings").get<bool>());
        QCOMPARE(c.tokenizerFile().filename().string(), std::string("tok512.bin"));

        QCOMPARE(c.info("model.embed_tokens.weight").shape, (std::vector<std::int64_t> { 512, 64 }));
        QCOMPARE(c.info("model.layers.4.self_attn.k_proj.weight").shape, (std::vector<std::int64_t> { 32, 64 }));
        QCOMPARE(c.info("model.layers.0.mlp.gate_proj.weight").shape, (std::vector<std::int64_t> { 172, 64 }));
        QCOMPARE(c.info("model.layers.2.mlp.down_proj.weight").shape, (std::vector<std::int64_t> { 64, 172 }));
        QCOMPARE(c.info("model.norm.weight").shape, (std::vector<std::int64_t> { 64 }));
        QVERIFY(!c.find("lm_head.weight")); // the classifier shares the embedding

        // Values come straight from the file: q_proj of layer 0 starts at byte 132380.
        const std::string bytes = test::readFile(m_folder / "stories260K.bin");
        float first = 0;
        std::memcpy(&first, bytes.data() + 132380, 4);
        QCOMPARE(c.load("model.layers.0.self_attn.q_proj.weight")[0][0].item<float>(), first);

        const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
        QCOMPARE(tree.quantizable().size(), std::size_t(5 * 7));
    }
};

QTEST_GUILESS_MAIN(TestSharedModels)
#include "tst_shared_models.moc"
