// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "export/exporter.h"
#include "io/safetensors_format.h"

#include <memory>
#include <set>

namespace qs {

class ShardedSafetensorsWriter;

// The Neuron document's rescaling of an existing fp8 e4m3 checkpoint (OCP range +-448, e.g. a
// compressed-tensors FP8 model) to Neuron's +-240 (../shared/reference/neuron_nxd_and_nanogpt.md):
// with F = 448/240, every F8_E4M3 `<module>.weight` that has a `<module>.weight_scale` becomes
// fp8(bf16(w) / F) (bf16 arithmetic, round to nearest even) and its scale becomes scale * F in
// the scale's own dtype; every other tensor is copied byte for byte. Names, shapes and dtypes
// are unchanged, so the product weight * scale is preserved within an fp8 step.
class Fp8RescaleExporter final : public Exporter
{
public:
    explicit Fp8RescaleExporter(ExportOptions options);
    ~Fp8RescaleExporter() override;

    void begin(const ConversionPlan& plan, const std::filesystem::path& directory) override;
    PreparedTensor prepare(
        const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control = {}) const override;
    void commit(const PlannedTensor& tensor, PreparedTensor& prepared) override;
    void finish() override;
    std::vector<std::string> files() const override;

private:
    ExportOptions m_options;
    std::set<std::string> m_weights; // fp8 weights with a scale
    std::set<std::string> m_scales; // their scales
    std::unique_ptr<ShardedSafetensorsWriter> m_writer;
    std::vector<std::string> m_files;
};

} // namespace qs
