// SPDX-License-Identifier: GPL-3.0-or-later
// Already-quantized checkpoints open as quantized: the scheme is recognised (compressed-tensors,
// NxD, AIU) and every quantized weight has a dequantized view with the exact expected values.
#include "demo/demo_model.h"
#include "io/checkpoint.h"
#include "io/torch_file_writer.h"
#include "jobs/conversion_job.h"
#include "jobs/progress.h"
#include "model/module_tree.h"
#include "quant/fp8.h"
#include "quant/quant_scheme.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QTest>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

using namespace qs;
namespace fs = std::filesystem;

namespace {

template <typename T>
test::RawTensor rawTensor(
    const std::string& name, DType dtype, std::vector<std::int64_t> shape, const std::vector<T>& v)
{
    test::RawTensor t { { name, dtype, std::move(shape) }, {} };
    t.bytes.resize(v.size() * sizeof(T));
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
}

at::Tensor tensorOf(const std::vector<float>& v, std::vector<std::int64_t> shape)
{
    return at::tensor(v).reshape(shape);
}

nlohmann::json ctConfig(const std::string& format, nlohmann::json weights)
{
    return { { "model_type", "llama" },
        { "quantization_config",
            { { "quant_method", "compressed-tensors" }, { "format", format }, { "quantization_status", "compressed" },
                { "ignore", { "lm_head" } },
                { "config_groups",
                    { { "group_0",
                        { { "targets", { "Linear" } }, { "weights", weights },
                            { "input_activations", nullptr } } } } } } } };
}

} // namespace

class TestQuantizedCheckpoints : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    fs::path path(const std::string& name) const { return fs::path(m_dir.path().toStdString()) / name; }

private Q_SLOTS:
    void fp8Codes()
    {
        QCOMPARE(fp8ToFloat(Fp8Format::E4M3, 0x7E), 448.0f);
        QCOMPARE(fp8ToFloat(Fp8Format::E4M3, 0x01), std::ldexp(1.0f, -9));
        QCOMPARE(fp8ToFloat(Fp8Format::E4M3, 0x38), 1.0f);
        QCOMPARE(fp8ToFloat(Fp8Format::E4M3, 0xB8), -1.0f);
        QVERIFY(std::isnan(fp8ToFloat(Fp8Format::E4M3, 0x7F)));
        QCOMPARE(fp8ToFloat(Fp8Format::E5M2, 0x7B), 57344.0f);
        QVERIFY(std::isinf(fp8ToFloat(Fp8Format::E5M2, 0x7C)));
        for (int code = 0; code < 256; ++code) { // every finite code round-trips
            for (auto format : { Fp8Format::E4M3, Fp8Format::E5M2 }) {
                const float v = fp8ToFloat(format, static_cast<std::uint8_t>(code));
                if (std::isfinite(v) && !(v == 0 && std::signbit(v)))
                    QCOMPARE(int(floatToFp8(format, v)), code);
            }
        }
        QCOMPARE(int(floatToFp8(Fp8Format::E4M3, 1000.0f)), 0x7E); // saturates
        QCOMPARE(int(floatToFp8(Fp8Format::E4M3, 1.0625f)), 0x38); // tie to even: 1.0 (0x38) vs 1.125 (0x39)
    }

    void compressedTensorsInt8Channel()
    {
        const fs::path dir = path("ct-int8");
        fs::create_directories(dir);
        const std::vector<std::int8_t> codes { -127, -3, 0, 5, 127, 1 };
        const std::vector<float> scales { 0.5f, 0.25f };
        test::writeSafetensors(dir / "model.safetensors",
            { rawTensor("model.layers.0.mlp.down_proj.weight", DType::I8, { 2, 3 }, codes),
                test::bf16Tensor("model.layers.0.mlp.down_proj.weight_scale", { 2, 1 }, scales),
                test::f32Tensor("lm_head.weight", { 2, 3 }, { 1, 2, 3, 4, 5, 6 }) });
        test::writeFile(dir / "config.json",
            ctConfig("int-quantized",
                { { "num_bits", 8 }, { "type", "int" }, { "strategy", "channel" }, { "symmetric", true } })
                .dump());
        const Checkpoint c = Checkpoint::open(dir);
        QCOMPARE(c.quantization().kind, std::string("compressed-tensors"));
        QVERIFY2(
            c.quantization().summary.find("int-quantized: weights int8 channel; ignore lm_head") != std::string::npos,
            c.quantization().summary.c_str());
        QCOMPARE(c.quantization().recipes.size(), std::size_t(1));
        QCOMPARE(c.quantization().companions.at("model.layers.0.mlp.down_proj.weight_scale"),
            std::string("model.layers.0.mlp.down_proj.weight"));
        const at::Tensor w = c.loadDequantized("model.layers.0.mlp.down_proj.weight");
        QVERIFY(at::equal(w, tensorOf({ -63.5f, -1.5f, 0, 1.25f, 31.75f, 0.25f }, { 2, 3 })));
        QVERIFY(at::equal(c.loadDequantized("lm_head.weight"), tensorOf({ 1, 2, 3, 4, 5, 6 }, { 2, 3 })));
    }

    void compressedTensorsFp8()
    {
        const fs::path dir = path("ct-fp8");
        fs::create_directories(dir);
        const std::vector<std::uint8_t> codes { 0x38, 0xB8, 0x7E, 0x01 }; // 1, -1, 448, 2^-9
        test::writeSafetensors(dir / "model.safetensors",
            { rawTensor("model.layers.0.self_attn.q_proj.weight", DType::F8_E4M3, { 2, 2 }, codes),
                test::f32Tensor("model.layers.0.self_attn.q_proj.weight_scale", { 1 }, { 2.0f }) });
        test::writeFile(dir / "config.json",
            ctConfig("float-quantized", { { "num_bits", 8 }, { "type", "float" }, { "strategy", "tensor" } }).dump());
        const Checkpoint c = Checkpoint::open(dir);
        QVERIFY(at::equal(c.loadFloat("model.layers.0.self_attn.q_proj.weight"),
            tensorOf({ 1, -1, 448, std::ldexp(1.0f, -9) }, { 2, 2 })));
        QVERIFY(at::equal(c.loadDequantized("model.layers.0.self_attn.q_proj.weight"),
            tensorOf({ 2, -2, 896, std::ldexp(1.0f, -8) }, { 2, 2 })));
    }

    void compressedTensorsPackedInt4Groups()
    {
        // [2, 10] int4 values, group size 5, packed 8 per int32 with offset 8 (two words per row).
        const fs::path dir = path("ct-w4a16");
        fs::create_directories(dir);
        std::vector<int> values(20);
        for (int i = 0; i < 20; ++i)
            values[i] = (i * 7) % 16 - 8;
        std::vector<std::int32_t> words(4, 0);
        for (int r = 0; r < 2; ++r) {
            for (int col = 0; col < 10; ++col) {
                const auto u = static_cast<std::uint32_t>(values[r * 10 + col] + 8);
                words[r * 2 + col / 8] = static_cast<std::int32_t>(
                    static_cast<std::uint32_t>(words[r * 2 + col / 8]) | (u << (4 * (col % 8))));
            }
        }
        const std::vector<float> scales { 1, 2, 3, 4 }; // [2 rows, 2 groups]
        test::writeSafetensors(dir / "model.safetensors",
            { rawTensor("model.layers.0.mlp.up_proj.weight_packed", DType::I32, { 2, 2 }, words),
                test::f32Tensor("model.layers.0.mlp.up_proj.weight_scale", { 2, 2 }, scales),
                rawTensor("model.layers.0.mlp.up_proj.weight_shape", DType::I64, { 2 },
                    std::vector<std::int64_t> { 2, 10 }) });
        test::writeFile(dir / "config.json",
            ctConfig("pack-quantized",
                { { "num_bits", 4 }, { "type", "int" }, { "strategy", "group" }, { "group_size", 5 } })
                .dump());
        const Checkpoint c = Checkpoint::open(dir);
        const at::Tensor w = c.loadDequantized("model.layers.0.mlp.up_proj.weight_packed");
        QCOMPARE(w.sizes().vec(), (std::vector<std::int64_t> { 2, 10 }));
        for (int r = 0; r < 2; ++r) {
            for (int col = 0; col < 10; ++col)
                QCOMPARE(w[r][col].item<float>(), values[r * 10 + col] * scales[r * 2 + col / 5]);
        }
    }

    // The demo's down_proj has 704 input features: groups of 128 leave a last group of 64. Our
    // own W4A16 export of it reopens, each value within half a step of its own group's scale.
    void packedExportWithARaggedLastGroupOpens()
    {
        writeDemoModel(path("demo-ragged"));
        const Checkpoint demo = Checkpoint::open(path("demo-ragged"));
        ConversionOptions options;
        options.destination = path("demo-w4a16");
        options.format = ExportFormat::CompressedTensors;
        options.scheme = *findSchemePreset("vllm-w4a16");
        NullProgress progress;
        convertCheckpoint(demo, ModuleTree::build(demo.tensors(), demo.modelType()), options, progress);

        const Checkpoint c = Checkpoint::open(path("demo-w4a16"));
        const std::string module = "model.layers.0.mlp.down_proj";
        const at::Tensor original = demo.loadFloat(module + ".weight");
        QCOMPARE(original.size(1), std::int64_t { 704 });
        const at::Tensor scale = c.loadFloat(module + ".weight_scale");
        QCOMPARE(scale.sizes().vec(), (std::vector<std::int64_t> { original.size(0), 6 }));
        const at::Tensor dequantized = c.loadDequantized(module + ".weight_packed");
        QCOMPARE(dequantized.sizes().vec(), original.sizes().vec());
        // Within half a step of the group's own scale (plus the bf16 rounding of the scale and
        // of x / scale, as llm-compressor computes them).
        const at::Tensor steps = (original - dequantized).abs() / scale.repeat_interleave(128, 1).narrow(1, 0, 704);
        const double worst = steps.max().item<double>();
        const double worstLast = steps.narrow(1, 640, 64).max().item<double>();
        qInfo("worst error %.4f steps, %.4f in the last (64-column) group", worst, worstLast);
        QVERIFY2(worst <= 0.55, qPrintable(QString::number(worst)));
    }

    void nxdExportOpensAsQuantized()
    {
        writeDemoModel(path("demo"));
        const Checkpoint demo = Checkpoint::open(path("demo"));
        ConversionOptions options;
        options.destination = path("demo-nxd");
        options.keptModules = { "model.layers.3.mlp.down_proj" };
        NullProgress progress;
        convertCheckpoint(demo, ModuleTree::build(demo.tensors(), demo.modelType()), options, progress);

        const Checkpoint c = Checkpoint::open(path("demo-nxd"));
        QCOMPARE(c.quantization().kind, std::string("nxd"));
        QVERIFY(c.quantization().details.contains("modules_to_not_convert"));
        const std::string name = "model.layers.1.self_attn.q_proj.weight";
        QVERIFY(c.quantization().recipes.count(name));
        QVERIFY(!c.quantization().recipes.count("model.layers.3.mlp.down_proj.weight"));
        const at::Tensor original = demo.loadFloat(name);
        const at::Tensor dequantized = c.loadDequantized(name);
        const at::Tensor halfStep = c.loadFloat("model.layers.1.self_attn.q_proj.scale") / 2;
        QVERIFY((original - dequantized).abs().le(halfStep * 1.0001 + 1e-6).all().item<bool>());
    }

    void nxdFp8ExportDequantizesWithinOneStep()
    {
        if (!fs::exists(path("demo")))
            writeDemoModel(path("demo"));
        const Checkpoint demo = Checkpoint::open(path("demo"));
        ConversionOptions options;
        options.destination = path("demo-nxd-fp8");
        options.scheme = *findSchemePreset("nxd-fp8");
        NullProgress progress;
        convertCheckpoint(demo, ModuleTree::build(demo.tensors(), demo.modelType()), options, progress);
        const Checkpoint c = Checkpoint::open(path("demo-nxd-fp8"));
        const std::string name = "model.layers.2.mlp.gate_proj.weight";
        QCOMPARE(c.info(name).dtype, DType::F8_E4M3);
        QCOMPARE(c.info("model.layers.2.mlp.gate_proj.scale").shape, (std::vector<std::int64_t> { 704, 1 }));
        const at::Tensor original = demo.loadFloat(name);
        const at::Tensor scale = c.loadFloat("model.layers.2.mlp.gate_proj.scale");
        // the largest magnitude of each row maps to 240 exactly
        QVERIFY(at::allclose(scale, original.abs().amax(1, true) / 240.0, 1e-6, 0));
        // e4m3 keeps 3 mantissa bits: relative error at most 1/16, plus half a subnormal step
        const at::Tensor error = (original - c.loadDequantized(name)).abs();
        QVERIFY(error.le(original.abs() / 16 + scale * std::ldexp(1.0, -10)).all().item<bool>());
    }

    void aiuCheckpointOpensAsQuantized()
    {
        const fs::path dir = path("aiu");
        fs::create_directories(dir);
        const std::vector<std::int8_t> codes { 127, -127, 10, 20, 30, -40 };
        const std::vector<std::uint16_t> clip { 0x4000, 0x3C00 }; // fp16 2.0, 1.0
        const std::vector<std::uint16_t> clipn { 0xC000, 0xBC00 };
        {
            TorchFileWriter w(dir / "qmodel_for_aiu.pt",
                { { "model.layers.0.mlp.gate_proj.weight", DType::I8, { 2, 3 }, {} },
                    { "model.layers.0.mlp.gate_proj.quantize_weight.clip_val", DType::F16, { 2 }, {} },
                    { "model.layers.0.mlp.gate_proj.quantize_weight.clip_valn", DType::F16, { 2 }, {} } },
                false);
            w.write("model.layers.0.mlp.gate_proj.weight", codes.data(), 6);
            w.write("model.layers.0.mlp.gate_proj.quantize_weight.clip_val", clip.data(), 4);
            w.write("model.layers.0.mlp.gate_proj.quantize_weight.clip_valn", clipn.data(), 4);
            w.finish();
        }
        test::writeFile(dir / "qcfg.json", R"({"qw_mode": "maxperCh", "qa_mode": "pertokenmax", "smoothq": false})");
        const Checkpoint c = Checkpoint::open(dir);
        QCOMPARE(c.format(), std::string("pytorch-zip"));
        QCOMPARE(c.quantization().kind, std::string("aiu"));
        QVERIFY2(c.quantization().summary.find("qw_mode \"maxperCh\"") != std::string::npos,
            c.quantization().summary.c_str());
        const at::Tensor w = c.loadDequantized("model.layers.0.mlp.gate_proj.weight");
        const at::Tensor expected = at::tensor(std::vector<float> { 127, -127, 10, 20, 30, -40 }).reshape({ 2, 3 })
            * at::tensor(std::vector<float> { 2.0f / 127, 1.0f / 127 }).reshape({ 2, 1 });
        QVERIFY(at::allclose(w, expected, 1e-6, 1e-7));
    }

    void foreignQuantMethodIsNamed()
    {
        const fs::path dir = path("gptq");
        fs::create_directories(dir);
        test::writeSafetensors(dir / "model.safetensors", { test::f32Tensor("x.qweight", { 1 }, { 1 }) });
        test::writeFile(dir / "config.json", R"({"quantization_config": {"quant_method": "gptq", "bits": 4}})");
        const Checkpoint c = Checkpoint::open(dir);
        QCOMPARE(c.quantization().kind, std::string("gptq"));
        QVERIFY(c.quantization().recipes.empty());
    }
};

QTEST_GUILESS_MAIN(TestQuantizedCheckpoints)
#include "tst_quantized_checkpoints.moc"
