// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "export/exporter.h"
#include "io/safetensors_format.h"

#include <memory>
#include <string>
#include <utility>

namespace qs {

class ShardedSafetensorsWriter;

// vLLM compressed-tensors checkpoint (../shared/reference/vllm_compressed_tensors.md):
// - int8 weights with int8 dynamic per-token activations: format int-quantized;
// - fp8 e4m3 weights: float-quantized with fp8 dynamic activations, naive-quantized without;
// - int4/int8 weight-only: pack-quantized (`weight_packed` int32, `weight_shape` int64 [2]);
// `weight_scale` in the weight's dtype ([N, 1] per channel, [N, groups] per group, [1] per
// tensor), no symmetric zero points (asymmetric int weights get `weight_zero_point` int8,
// except in pack-quantized, which is refused). config.json keeps the source config and adds
// `quantization_config` with only the QuantizationArgs fields every vLLM release accepts
// (no scale_dtype / zp_dtype), `ignore` listing the full names of the kept Linear modules;
// recipe.yaml records what was done. Sharding as Hugging Face does.
// Per-module schemes (ExportOptions::moduleSchemes) give one config group per scheme, each
// targeting its modules by exact name with its own `format`, and the top-level format
// "mixed-precision" when the groups' formats differ.
class CompressedTensorsExporter final : public Exporter
{
public:
    explicit CompressedTensorsExporter(ExportOptions options);
    ~CompressedTensorsExporter() override;

    void begin(const ConversionPlan& plan, const std::filesystem::path& directory) override;
    PreparedTensor prepare(
        const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control = {}) const override;
    void commit(const PlannedTensor& tensor, PreparedTensor& prepared) override;
    void finish() override;
    std::vector<std::string> files() const override;

    std::vector<TensorSpec> outputsFor(const PlannedTensor& tensor) const;
    // "int-quantized", "float-quantized", "naive-quantized" or "pack-quantized"; "mixed-precision"
    // when per-module schemes give groups of several formats.
    std::string format() const;

private:
    bool groupOrder() const; // GPTQ's group activation order: weight_g_idx per module
    void writeGroupIndex(const PlannedTensor& tensor);
    void validate(const QuantScheme& scheme) const; // UsageError for what vLLM cannot load

    ExportOptions m_options;
    std::filesystem::path m_directory;
    std::unique_ptr<ShardedSafetensorsWriter> m_writer;
    std::vector<std::string> m_files;
    std::vector<std::string> m_quantizedModules; // in plan order
};

// A scheme's weights and input activations as the YAML flow mappings of an llm-compressor recipe's
// config group ("{num_bits: 4, type: int, ...}"; activations empty when the scheme has none), as
// the compressed-tensors export writes them.
std::pair<std::string, std::string> recipeSchemeArgs(const QuantScheme& scheme);

} // namespace qs
