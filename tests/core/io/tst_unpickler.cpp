// SPDX-License-Identifier: GPL-3.0-or-later
// The restricted unpickler: Python's own pickles of plain data in every protocol torch may
// use, the torch-specific globals, and refusal of everything else.
#include "error.h"
#include "io/pickle/pickle_writer.h"
#include "io/pickle/torch_state_dict.h"
#include "io/pickle/unpickler.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTest>

using namespace qs;

namespace {

std::string pythonPickle(const QString& expression, int protocol)
{
    QProcess p;
    p.start(QStringLiteral(QS_PYTHON),
        { "-c",
            QStringLiteral("import pickle, sys, collections, functools; "
                           "sys.stdout.buffer.write(pickle.dumps(%1, protocol=%2))")
                .arg(expression)
                .arg(protocol) });
    p.waitForFinished(60000);
    const QByteArray out = p.readAllStandardOutput();
    return std::string(out.constData(), static_cast<std::size_t>(out.size()));
}

const PickleObject* parse(PickleDocument& doc, const std::string& bytes)
{
    unpickle(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), doc, "test.pkl");
    return doc.root();
}

// A byte string literal with embedded NULs, without counting its length by hand.
template <std::size_t N> QByteArray B(const char (&s)[N])
{
    return QByteArray(s, static_cast<int>(N - 1));
}

std::string errorOf(const std::string& bytes)
{
    try {
        PickleDocument doc;
        parse(doc, bytes);
    } catch (const FormatError& e) {
        return e.what();
    }
    return "no error";
}

} // namespace

class TestUnpickler : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void plainDataInEveryProtocol_data()
    {
        QTest::addColumn<int>("protocol");
        for (int p = 2; p <= 5; ++p)
            QTest::addRow("protocol %d", p) << p;
    }
    void plainDataInEveryProtocol()
    {
        QFETCH(int, protocol);
        const QString expr = "collections.OrderedDict([('n', 7), ('neg', -70000), ('big', 2**40), ('f', 0.25),"
                             " ('s', 'héllo'), ('b', b'\\x00\\xff'), ('t', (1, 2, 3)), ('l', [None, True, False]),"
                             " ('d', {1: 'one', 'k': [1.5]}), ('set', {3}), ('long', 'x' * 300), ('shared', [1])])";
        const std::string bytes = pythonPickle(expr, protocol);
        QVERIFY(!bytes.empty());
        PickleDocument doc;
        const PickleObject* root = parse(doc, bytes);
        QCOMPARE(root->kind, PickleKind::Dict);
        QVERIFY(root->ordered);
        QCOMPARE(root->get("n")->integer, std::int64_t(7));
        QCOMPARE(root->get("neg")->integer, std::int64_t(-70000));
        QCOMPARE(root->get("big")->integer, std::int64_t(1) << 40);
        QCOMPARE(root->get("f")->real, 0.25);
        QCOMPARE(root->get("s")->text, std::string("h\xc3\xa9llo"));
        QCOMPARE(root->get("b")->kind, PickleKind::Bytes);
        QCOMPARE(root->get("b")->text, std::string("\x00\xff", 2));
        QCOMPARE(root->get("t")->items.size(), std::size_t(3));
        QCOMPARE(root->get("t")->items[2]->integer, std::int64_t(3));
        const auto* l = root->get("l");
        QCOMPARE(l->items[0]->kind, PickleKind::None);
        QVERIFY(l->items[1]->boolean);
        QVERIFY(!l->items[2]->boolean);
        QCOMPARE(root->get("d")->entries.size(), std::size_t(2));
        QCOMPARE(root->get("d")->entries[0].first->integer, std::int64_t(1));
        QCOMPARE(root->get("set")->kind, PickleKind::Set);
        QCOMPARE(root->get("long")->text.size(), std::size_t(300));
    }

    void writerOutputReadsBack()
    {
        const std::string pkl = pickleStateDict(
            { { "a.weight", DType::BF16, { 2, 3 }, "0", 6, 0, {} }, { "b", DType::I8, { 3, 2 }, "0", 6, 0, { 1, 3 } },
                { "c", DType::F32, {}, "1", 1, 0, {} } },
            true);
        PickleDocument doc;
        const auto* root = parse(doc, pkl);
        QVERIFY(root->ordered);
        const auto* a = root->get("a.weight");
        QCOMPARE(a->kind, PickleKind::Tensor);
        QCOMPARE(a->tensor.storage->storage.dtype, DType::BF16);
        QCOMPARE(a->tensor.shape, (std::vector<std::int64_t> { 2, 3 }));
        QCOMPARE(a->tensor.strides, (std::vector<std::int64_t> { 3, 1 }));
        QCOMPARE(root->get("b")->tensor.strides, (std::vector<std::int64_t> { 1, 3 }));
        // Same key, different dtype: separate storage objects; same key and dtype: shared.
        QVERIFY(root->get("b")->tensor.storage != a->tensor.storage);
        const auto state = interpretTorchObject(root, "test.pkl");
        QCOMPARE(state.tensors.size(), std::size_t(3));
        QCOMPARE(state.layout, std::string("state_dict"));
    }

    void refusesGlobalsByName_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        QTest::newRow("os.system") << B("\x80\x02"
                                        "cos\nsystem\nX\x02\x00\x00\x00ls\x85R.")
                                   << "'os.system'";
        QTest::newRow("builtins.eval via STACK_GLOBAL") << B("\x80\x04\x8c\x08"
                                                             "builtins\x8c\x04"
                                                             "eval\x93.")
                                                        << "'builtins.eval'";
        QTest::newRow("posix.system") << B("\x80\x02"
                                           "cposix\nsystem\n.")
                                      << "'posix.system'";
        QTest::newRow("torch.load itself") << B("\x80\x02"
                                                "ctorch\nload\n.")
                                           << "'torch.load'";
    }
    void refusesGlobalsByName()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        const std::string error = errorOf(bytes.toStdString());
        QVERIFY2(QString::fromStdString(error).contains(expected), error.c_str());
        QVERIFY2(error.find("not allowed") != std::string::npos, error.c_str());
        QVERIFY2(error.find("test.pkl") != std::string::npos, error.c_str());
    }

    void malformedStreamsGiveSpecificErrors_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        QTest::newRow("empty") << QByteArray() << "ends before the STOP";
        QTest::newRow("truncated BINUNICODE") << B("\x80\x02X\xff\x00\x00\x00"
                                                   "abc")
                                              << "runs past the end";
        QTest::newRow("no STOP") << B("\x80\x02}") << "ends before the STOP";
        QTest::newRow("stack underflow") << B("\x80\x02R.") << "stack is empty";
        QTest::newRow("memo miss") << B("\x80\x02h\x05.") << "memo entry 5";
        QTest::newRow("unknown opcode") << B("\x80\x02\xff.") << "opcode 0xff";
        QTest::newRow("protocol 9") << B("\x80\x09N.") << "protocol 9";
        QTest::newRow("APPEND to a dict") << B("\x80\x02}Na.") << "APPEND applied to dict";
        QTest::newRow("two values at STOP") << B("\x80\x02NN.") << "2 values on the stack";
        QTest::newRow("SETITEMS without MARK") << B("\x80\x02}u.") << "needs a MARK";
        QTest::newRow("huge integer") << B("\x80\x02\x8b\x00\x00\x01\x00.") << "too large";
        QTest::newRow("persistent id not a storage") << B("\x80\x02NQ.") << "not a torch storage";
        QTest::newRow("INST (protocol 0 object)") << B("\x80\x02(ios\nsystem\n.") << "opcode 0x69";
    }
    void malformedStreamsGiveSpecificErrors()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        const std::string error = errorOf(bytes.toStdString());
        QVERIFY2(QString::fromStdString(error).contains(expected), error.c_str());
    }

    void tensorOutsideItsStorageIsRefused()
    {
        // A [4, 4] tensor over a storage of 8 elements.
        const std::string pkl = pickleStateDict({ { "w", DType::F32, { 4, 4 }, "0", 8, 0, {} } }, false);
        PickleDocument doc;
        const auto* root = parse(doc, pkl);
        try {
            interpretTorchObject(root, "x.pt");
            QFAIL("accepted");
        } catch (const FormatError& e) {
            QVERIFY2(std::string(e.what()).find("reaches element 15 of a storage of 8") != std::string::npos, e.what());
            QCOMPARE(e.context().tensor, std::string("w"));
        }
    }

    // Regressions found by fuzz_unpickler: each must end quickly with a qs::Error, never hang,
    // crash or leak another exception type.
    void fuzzFindingsStayFixed_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        QTest::newRow("invalid UTF-8 string")
            << QByteArray::fromBase64("gAJ9WAEAAABrWAEAAAD/cy4=") << "not valid UTF-8";
        QTest::newRow("invalid UTF-8 key")
            << QByteArray::fromBase64("gAJ9WAEAAABrfVgBAAAA/0sBc3Mu") << "not valid UTF-8";
        QTest::newRow("L = [L, L] as metadata")
            << QByteArray::fromBase64("gAJ9WAEAAAB4XXEBKGgBaAFlcy4=") << "no tensors";
        QTest::newRow("D = {'a': D, 'b': D} as model")
            << QByteArray::fromBase64("gAJ9WAUAAABtb2RlbH1xAShYAQAAAGFoAVgBAAAAYmgBdXMu") << "no tensors";
        QTest::newRow("tensor size overflow in metadata") << QByteArray::fromBase64(
            "gAJ9WAEAAAB4XWN0b3JjaC5fdXRpbHMKX3JlYnVpbGRfdGVuc29yX3YyCigoWAcAAABzdG9yYWdlY3Rv"
            "cmNoCkZsb2F0U3RvcmFnZQpYAQAAADBYAwAAAGNwdUsEdFFLAIoIAAAAAAAAAEBLBIZLAEsAhol0UmFz"
            "Lg==") << "no tensors";
        QTest::newRow("40 levels of shared lists")
            << QByteArray::fromStdString(pythonPickle("{'x': functools.reduce(lambda a, _: [a, a], range(40), [])}", 2))
            << "no tensors";
    }
    void fuzzFindingsStayFixed()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        QElapsedTimer timer;
        timer.start();
        std::string error = "no error";
        try {
            PickleDocument doc;
            interpretTorchObject(parse(doc, bytes.toStdString()), "fuzz.pkl");
        } catch (const Error& e) {
            error = e.what();
        }
        QVERIFY2(QString::fromStdString(error).contains(expected), error.c_str());
        QVERIFY2(timer.elapsed() < 5000, "took too long");
    }

    void cyclesAndDeepNestingTerminate()
    {
        // l = []; l.append(l); {'x': l} -- a self-referencing list, via the memo.
        const std::string cyclic = B("\x80\x02}X\x01\x00\x00\x00x]q\x00h\x00"
                                     "as.")
                                       .toStdString();
        PickleDocument doc;
        const auto* root = parse(doc, cyclic);
        QVERIFY_THROWS_EXCEPTION(FormatError, interpretTorchObject(root, "cycle.pkl")); // no tensors, but it ends
        std::string deep("\x80\x02");
        for (int i = 0; i < 100000; ++i)
            deep += "]";
        for (int i = 0; i < 99999; ++i)
            deep += "a";
        deep += ".";
        PickleDocument deepDoc;
        QCOMPARE(parse(deepDoc, deep)->kind, PickleKind::List);
    }
};

QTEST_GUILESS_MAIN(TestUnpickler)
#include "tst_unpickler.moc"
