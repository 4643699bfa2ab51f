// SPDX-License-Identifier: GPL-3.0-or-later
// The nanoGPT quantization fork's own files, written by tests/interop/make_nanogpt_fork.py with
// Debian's torch and numpy along the fork's code paths: QuantizedLinear codes and stored
// activations in ckpt.pt, save_weights.py's .pkl (protocols 4 and 5) and sample.py's whole
// state dict. Dequantized values against numpy's (q - zero_point) * scale, the quantizer as
// inferred, the restricted numpy unpickler's refusals.
#include "error.h"
#include "io/checkpoint.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "quant/fork_scheme.h"
#include "runtime/stored_activations.h"
#include "stats/tensor_analysis.h"
#include "stats/tensor_comparison.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <fstream>
#include <set>

using namespace qs;
namespace fs = std::filesystem;

namespace {

class NoProgress final : public Progress
{
public:
    void report(const ProgressUpdate&) override { }
    bool cancelled() const override { return false; }
};

// Runs Python code with Debian's numpy; returns its exit code and fills `error` with stderr.
int runPython(const QStringList& args, QString* error = nullptr)
{
    QProcess p;
    p.start(QStringLiteral(QS_PYTHON), args);
    if (!p.waitForFinished(120000))
        return -1;
    if (error)
        *error = QString::fromUtf8(p.readAllStandardError());
    return p.exitCode();
}

std::string errorOpening(const fs::path& file)
{
    try {
        Checkpoint::open(file);
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

// Both tensors as float, equal within float32 rounding; -inf where the other is -inf.
void compareValues(const at::Tensor& got, const at::Tensor& want, const std::string& name)
{
    QVERIFY2(got.sizes() == want.sizes(), name.c_str());
    const at::Tensor a = got.to(at::kDouble);
    const at::Tensor b = want.to(at::kDouble);
    QVERIFY2(at::isinf(a).equal(at::isinf(b)), (name + ": masked positions differ").c_str());
    const at::Tensor finite = at::isfinite(b);
    const at::Tensor diff = (a - b).abs().masked_select(finite);
    const double tolerance = 1e-6 * std::max(1.0, b.masked_select(finite).abs().max().item<double>());
    QVERIFY2(diff.numel() == 0 || diff.max().item<double>() <= tolerance, name.c_str());
}

} // namespace

class TestNanogptFork : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_out;
    nlohmann::json m_expected;

    fs::path file(const char* name) const { return m_out / name; }

    // A pickle written by Python: `code` runs with numpy as np, pickle and collections imported
    // and must leave the object to pickle in `obj`.
    fs::path pythonPickle(const QString& name, const QString& code, int protocol = 4)
    {
        const fs::path out = m_out / name.toStdString();
        const QString script = QStringLiteral("import numpy as np, pickle, collections, sys\n%1\n"
                                              "open(sys.argv[1], 'wb').write(pickle.dumps(obj, protocol=%2))\n")
                                   .arg(code)
                                   .arg(protocol);
        QString error;
        if (runPython({ "-c", script, QString::fromStdString(out.string()) }, &error) != 0)
            qWarning("%s", qPrintable(error));
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_out = fs::path(m_dir.path().toStdString()) / "fork";
        QString error;
        const int rc = runPython(
            { QStringLiteral(QS_TESTS_DIR "/interop/make_nanogpt_fork.py"), QString::fromStdString(m_out.string()) },
            &error);
        QVERIFY2(rc == 0, qPrintable(error));
        std::ifstream in(m_out / "expected.json");
        m_expected = nlohmann::json::parse(in);
    }

    void ckptRecognisesQuantizedLinearAndActivations()
    {
        const Checkpoint c = Checkpoint::open(file("ckpt.pt"));
        QCOMPARE(c.layout(), std::string("nanogpt"));
        const QuantizationInfo& q = c.quantization();
        QCOMPARE(q.kind, std::string("nanogpt-fork"));
        QCOMPARE(q.storedCodes.size(), m_expected["methods"].size());
        for (const auto& [codes, method] : m_expected["methods"].items()) {
            const std::string weight = codes.substr(0, codes.size() - std::string("quantized_weight").size()) + "weight";
            QCOMPARE(q.storedCodes.at(weight), codes);
            QVERIFY(q.companions.count(weight.substr(0, weight.size() - 6) + "weight_norm"));
        }
        QCOMPARE(q.activations, m_expected["activations"].get<std::vector<std::string>>());
        QCOMPARE(q.details["quantized_weights"].get<std::size_t>(), m_expected["methods"].size());
        QVERIFY2(q.summary.find("12 QuantizedLinear weights") != std::string::npos, q.summary.c_str());
        QVERIFY2(q.summary.find("24 stored activations (12 points)") != std::string::npos, q.summary.c_str());
        // The float weights stay plain Linear modules (quantizable with any scheme); the causal
        // mask attn.bias is not taken for a Linear bias.
        const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
        QCOMPARE(tree.quantizable().size(), std::size_t(12 + 1)); // and the tied lm_head
        QCOMPARE(tree.node(tree.find("transformer.h.0.attn")).kind, ModuleKind::Container);
    }

    void dequantizedValuesEqualNumpy_data()
    {
        QTest::addColumn<QString>("file");
        QTest::newRow("ckpt.pt") << "ckpt.pt";
        QTest::newRow("save_weights .pkl, protocol 4") << "quantized_weights.pkl";
        QTest::newRow("save_weights .pkl, protocol 5") << "quantized_weights_p5.pkl";
        QTest::newRow("sample.py whole state dict") << "quantization_data.pkl";
    }
    void dequantizedValuesEqualNumpy()
    {
        QFETCH(QString, file);
        const Checkpoint c = Checkpoint::open(m_out / file.toStdString());
        const Checkpoint expected = Checkpoint::open(m_out / "expected.safetensors");
        QCOMPARE(expected.tensors().size(), m_expected["methods"].size() + m_expected["activations"].size());
        for (const TensorInfo& t : expected.tensors()) {
            QVERIFY2(c.quantization().recipes.count(t.name), t.name.c_str());
            compareValues(c.loadDequantized(t.name), expected.loadFloat(t.name), t.name);
        }
    }

    void pklArraysAreViewedInPlace_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("layout");
        QTest::newRow("protocol 4") << "quantized_weights.pkl" << "save_weights";
        QTest::newRow("protocol 5") << "quantized_weights_p5.pkl" << "save_weights";
        QTest::newRow("whole state dict") << "quantization_data.pkl" << "state_dict";
    }
    void pklArraysAreViewedInPlace()
    {
        QFETCH(QString, file);
        QFETCH(QString, layout);
        const fs::path path = m_out / file.toStdString();
        const Checkpoint pkl = Checkpoint::open(path);
        const Checkpoint ckpt = Checkpoint::open(this->file("ckpt.pt"));
        QCOMPARE(pkl.format(), std::string("numpy-pickle"));
        QCOMPARE(pkl.layout(), layout.toStdString());
        QCOMPARE(pkl.quantization().kind, std::string("nanogpt-fork"));
        QVERIFY(pkl.tensors().size() >= 108);
        for (const TensorInfo& t : pkl.tensors()) {
            QCOMPARE(t.source, path.string());
            const TensorInfo& original = ckpt.info(t.name);
            QCOMPARE(t.dtype, original.dtype);
            QCOMPARE(t.shape, original.shape);
            const auto a = pkl.raw(t.name);
            const auto b = ckpt.raw(t.name);
            QVERIFY2(a.size == b.size && std::memcmp(a.data, b.data, a.size) == 0, t.name.c_str());
        }
        // Only the codes: the modules are stored-quantized Linear ones, shaped like the codes.
        if (layout == "save_weights") {
            const ModuleTree tree = ModuleTree::build(pkl.tensors(), pkl.modelType());
            const int q = tree.find("transformer.h.0.attn.c_attn_k");
            QVERIFY(q >= 0);
            QCOMPARE(tree.node(q).kind, ModuleKind::QuantizedLinear);
            QCOMPARE(tree.node(q).weightShape, (std::vector<std::int64_t> { 16, 32 }));
        }
    }

    void quantizerIsInferred()
    {
        const Checkpoint ckpt = Checkpoint::open(file("ckpt.pt"));
        const Checkpoint whole = Checkpoint::open(file("quantization_data.pkl"));
        const Checkpoint pkl = Checkpoint::open(file("quantized_weights.pkl"));
        for (const auto& [codes, spec] : m_expected["methods"].items()) {
            const std::string method = spec[0].get<std::string>();
            const int bits = method == "ternary_quant" ? 2 : spec[1].get<int>();
            for (const Checkpoint* c : { &ckpt, &whole }) {
                // With the float weight beside the codes, the quantizer is recomputed.
                const ForkSchemeGuess g = inferForkScheme(*c, codes);
                QVERIFY2(g.method == method && g.bits == bits, (codes + ": " + g.describe() + ", " + g.basis).c_str());
                QCOMPARE(g.verified, method != "stochastic_quant");
                QVERIFY2(g.basis.find("recomputed from") != std::string::npos || !g.verified, g.basis.c_str());
            }
            // The fork's own dequantize() wraps q - zero_point in int8; QuantScope counts those.
            const at::Tensor q = ckpt.loadFloat(codes).to(at::kLong);
            const std::string base = codes.substr(0, codes.size() - std::string("quantized_weight").size());
            const std::int64_t zp = ckpt.loadFloat(base + "weight_zero_point").to(at::kLong).item<std::int64_t>();
            const std::int64_t wraps = (q - zp).lt(-128).logical_or((q - zp).gt(127)).sum().item<std::int64_t>();
            QCOMPARE(inferForkScheme(ckpt, codes).wrappedCodes, wraps);
            if (codes == "transformer.h.0.attn.c_attn_k.quantized_weight")
                QVERIFY(wraps > 0); // affine 8-bit with zero point 12: the lowest codes wrap
            // From the codes alone: right, or the one ambiguity it names.
            const ForkSchemeGuess g = inferForkScheme(pkl, codes);
            QVERIFY(!g.verified);
            QVERIFY2(g.basis.find("from the codes alone") != std::string::npos, g.basis.c_str());
            if (method == "stochastic_quant") {
                QCOMPARE(g.method, std::string("symmetric_quant"));
                QCOMPARE(g.bits, bits + 1);
                QVERIFY2(g.basis.find("stochastic_quant with " + std::to_string(bits) + " bits") != std::string::npos,
                    g.basis.c_str());
            } else {
                QVERIFY2(g.method == method && g.bits == bits, (codes + ": " + g.describe() + ", " + g.basis).c_str());
            }
        }
        QVERIFY_THROWS_EXCEPTION(UsageError, inferForkScheme(ckpt, "transformer.h.0.attn.c_attn_q.weight"));
    }

    void moduleAnalysisComparesFloatStoredAndRequantized()
    {
        const Checkpoint c = Checkpoint::open(file("ckpt.pt"));
        const ModuleTree tree = ModuleTree::build(c.tensors(), c.modelType());
        const TensorAnalysis a = analyzeTensor(c, tree, "transformer.h.0.attn.c_attn_q.weight");
        QCOMPARE(a.storedCodes, std::string("transformer.h.0.attn.c_attn_q.quantized_weight"));
        QCOMPARE(a.storedScheme, std::string("symmetric_quant 8-bit, per tensor"));
        QVERIFY(a.storedQuantization.empty()); // the float weight itself is shown
        QVERIFY(a.quantized); // and re-quantized with the scheme
        QCOMPARE(a.storedDequantized.counts.size(), a.original.counts.size());
        QCOMPARE(a.storedDequantized.lo, a.original.lo);
        QVERIFY2(a.storedError.sqnrDb > 30 && a.storedError.sqnrDb < 60, std::to_string(a.storedError.sqnrDb).c_str());
        // 4-bit codes are much further from the float weight than 8-bit ones.
        const TensorAnalysis four = analyzeTensor(c, tree, "transformer.h.0.attn.c_proj.weight");
        QVERIFY(four.storedError.sqnrDb < a.storedError.sqnrDb - 15);
        // Compare: the float weight of ckpt.pt against the codes of its save_weights .pkl.
        const Checkpoint saved = Checkpoint::open(file("quantized_weights.pkl"));
        const std::string other = counterpartTensor(saved, "transformer.h.0.attn.c_attn_q.weight");
        QCOMPARE(other, a.storedCodes);
        const TensorComparison compared = compareTensors(c, "transformer.h.0.attn.c_attn_q.weight", saved, other);
        QCOMPARE(compared.storedB, std::string("nanogpt-fork"));
        QVERIFY(std::fabs(compared.difference.sqnrDb - a.storedError.sqnrDb) < 1e-6);
        // The codes of a .pkl are analysed as their dequantized values, with their quantizer.
        const Checkpoint pkl = Checkpoint::open(file("quantized_weights.pkl"));
        const ModuleTree pklTree = ModuleTree::build(pkl.tensors(), pkl.modelType());
        const TensorAnalysis codes = analyzeTensor(pkl, pklTree, "transformer.h.1.attn.c_attn_q.quantized_weight");
        QCOMPARE(codes.storedQuantization, std::string("nanogpt-fork"));
        QCOMPARE(codes.storedScheme, std::string("affine_quant 4-bit, per tensor"));
        QVERIFY(!codes.quantized);
    }

    void storedActivationsAreMeasuredLikeACapture()
    {
        const Checkpoint c = Checkpoint::open(file("ckpt.pt"));
        NoProgress progress;
        const std::vector<ActivationStats> points = storedActivations(c, progress);
        QCOMPARE(points.size(), m_expected["activations"].size());
        std::set<std::string> kinds;
        for (std::size_t i = 0; i < points.size(); ++i) {
            const ActivationStats& s = points[i];
            QCOMPARE(s.point, m_expected["activations"][i].get<std::string>());
            kinds.insert(s.kind);
            const TensorInfo& t = c.info(s.point);
            QCOMPARE(s.channels, t.shape.back());
            QCOMPARE(s.tokens, t.numel() / t.shape.back());
            QVERIFY(s.sampleRows > 0);
            QCOMPARE(s.sample.size(), static_cast<std::size_t>(s.sampleRows * s.channels));
            const std::uint64_t masked = s.kind == "attn_act_softmax_input" ? 3 * 4 * (16 * 15 / 2) : 0;
            QCOMPARE(s.histogram.nonFinite, masked);
        }
        QCOMPARE(kinds, (m_expected["points"].get<std::set<std::string>>()));
        // The values are the dequantized ones: attn_act_input's range is its codes' times the scale.
        const at::Tensor expected = Checkpoint::open(file("expected.safetensors")).loadFloat(points[0].point);
        QCOMPARE(points[0].globalMax, expected.max().item<double>());
    }

    void pklReaderRefusesWhatIsNotPlainArrays_data()
    {
        QTest::addColumn<QString>("code");
        QTest::addColumn<QString>("expected");
        QTest::newRow("os.system beside an array")
            << "class X:\n    def __reduce__(self): import os; return (os.system, ('true',))\n"
               "obj = {'a': np.zeros(3, np.int8), 'b': X()}"
            << "'posix.system', which is not allowed";
        QTest::newRow("builtins.eval")
            << "class X:\n    def __reduce__(self): return (eval, ('1',))\nobj = {'a': X()}" << "'builtins.eval'";
        QTest::newRow("a torch global in a .pkl")
            << "class X:\n    def __reduce__(self): import torch; return (torch.load, ('x',))\nobj = {'a': X()}"
            << "'torch.serialization.load'";
        QTest::newRow("a numpy scalar") << "obj = {'a': np.float32(1.5)}" << "'numpy.core.multiarray.scalar'";
        QTest::newRow("an object array") << "obj = {'a': np.array([1, 'x'], dtype=object)}" << "'O8' is not supported";
        QTest::newRow("big-endian") << "obj = {'a': np.zeros(3, '>f4')}" << "big-endian";
        QTest::newRow("structured dtype")
            << "obj = {'a': np.zeros(3, [('x', 'i1'), ('y', 'f4')])}" << "is not supported";
        QTest::newRow("bytes shorter than the shape")
            << "from numpy.core.multiarray import _reconstruct\n"
               "class X:\n    def __reduce__(self): return (_reconstruct, (np.ndarray, (0,), b'b'), "
               "(1, (2, 3), np.dtype('i1'), False, b'12345'))\nobj = {'a': X()}"
            << "needs 6 bytes, but its data holds 5";
        QTest::newRow("bytes longer than the shape")
            << "from numpy.core.multiarray import _reconstruct\n"
               "class X:\n    def __reduce__(self): return (_reconstruct, (np.ndarray, (0,), b'b'), "
               "(1, (2,), np.dtype('<f4'), False, b'123456789'))\nobj = {'a': X()}"
            << "needs 8 bytes, but its data holds 9";
        QTest::newRow("a list, not a dict") << "obj = [np.zeros(2)]" << "not a dict of numpy arrays";
        QTest::newRow("no arrays (meta.pkl)") << "obj = {'vocab_size': 3, 'itos': {0: 'a'}}" << "holds no numpy arrays";
    }
    void pklReaderRefusesWhatIsNotPlainArrays()
    {
        QFETCH(QString, code);
        QFETCH(QString, expected);
        const fs::path f = pythonPickle(QString::fromLatin1(QTest::currentDataTag()).replace(' ', '_') + ".pkl", code);
        QVERIFY(fs::exists(f));
        const std::string error = errorOpening(f);
        QVERIFY2(QString::fromStdString(error).contains(expected), error.c_str());
        QVERIFY2(error.find(f.filename().string()) != std::string::npos, error.c_str());
    }

    void pklOrdersAndTypes()
    {
        // Fortran order is a strided view; numpy 2's module names and bool/uint8/f16 arrays read too.
        const fs::path f = pythonPickle("orders.pkl",
            "a = np.arange(12, dtype=np.float32).reshape(3, 4)\n"
            "obj = collections.OrderedDict([('f', np.asfortranarray(a)), ('c', a), ('u', np.arange(5, dtype=np.uint8)),"
            " ('h', np.ones((2, 2), np.float16)), ('b', np.array([True, False])), ('s', np.array(7, np.int64))])");
        const Checkpoint c = Checkpoint::open(f);
        QCOMPARE(c.layout(), std::string("state_dict"));
        QVERIFY(!c.info("f").strides.empty());
        QVERIFY(c.loadFloat("f").equal(c.loadFloat("c")));
        QCOMPARE(c.info("u").dtype, DType::U8);
        QCOMPARE(c.info("h").dtype, DType::F16);
        QCOMPARE(c.info("b").dtype, DType::BOOL);
        QCOMPARE(c.info("s").shape, std::vector<std::int64_t> {});
        QCOMPARE(c.loadFloat("s").item<double>(), 7.0);
        // numpy 2 spells the module numpy._core (SHORT_BINUNICODE of 22 bytes instead of 21;
        // the frame lengths, only hints, go stale).
        std::string renamed = readBytes(f);
        const std::string from = std::string("\x8c\x15numpy.core.multiarray");
        const std::string to = std::string("\x8c\x16numpy._core.multiarray");
        int replaced = 0;
        for (std::size_t at = renamed.find(from); at != std::string::npos; at = renamed.find(from, at + to.size())) {
            renamed.replace(at, from.size(), to);
            ++replaced;
        }
        QVERIFY(replaced > 0);
        const fs::path numpy2 = m_out / "numpy2.pkl";
        std::ofstream(numpy2, std::ios::binary) << renamed;
        const Checkpoint c2 = Checkpoint::open(numpy2);
        QVERIFY(c2.loadFloat("f").equal(c.loadFloat("c")));
    }

private:
    static std::string readBytes(const fs::path& f)
    {
        std::ifstream in(f, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
};

QTEST_GUILESS_MAIN(TestNanogptFork)
#include "tst_nanogpt_fork.moc"
