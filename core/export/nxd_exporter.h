// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "export/exporter.h"
#include "io/safetensors_format.h"

#include <memory>

namespace qs {

class ShardedSafetensorsWriter;

// AWS Neuron NxD checkpoint, as `convert_qint8_to_int8_state_dict` + `save_state_dict_safetensors`
// produce it: for every converted Linear, `<module>.weight` int8 [out, in] and `<module>.scale`
// float32 [out, 1] (per-channel symmetric, see quantizeInt8PerChannelNxd); every other tensor
// unchanged; Hugging Face safetensors sharding (model.safetensors or model-0000i-of-0000N +
// index); and modules_to_not_convert.json in its flat shape.
class NxdExporter final : public Exporter
{
public:
    explicit NxdExporter(ExportOptions options);
    ~NxdExporter() override;

    void begin(const ConversionPlan& plan, const std::filesystem::path& directory) override;
    PreparedTensor prepare(
        const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control = {}) const override;
    void commit(const PlannedTensor& tensor, PreparedTensor& prepared) override;
    void finish() override;
    std::vector<std::string> files() const override;

    // The tensors written for one planned input tensor.
    std::vector<TensorSpec> outputsFor(const PlannedTensor& tensor) const;

private:
    bool staticInputs() const; // the scheme's activations are static: input_scale per module
    ExportOptions m_options;
    std::filesystem::path m_directory;
    std::unique_ptr<ShardedSafetensorsWriter> m_writer;
    std::vector<std::string> m_files;
};

} // namespace qs
