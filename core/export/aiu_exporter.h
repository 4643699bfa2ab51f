// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "export/exporter.h"
#include "io/torch_file_writer.h"

#include <memory>

namespace qs {

// IBM AIU checkpoint as fms-mo's `save_for_aiu` writes it (../shared/reference/aiu_fms_mo.md §1):
// `qmodel_for_aiu.pt`, a plain dict that torch.load(weights_only=True) reads, in which every
// quantized Linear `L` has `L.weight` int8 [out, in] in [-127, 127] and
// `L.quantize_weight.clip_val` / `clip_valn` float16 ([out] per channel, [1] per tensor), and
// every other tensor is float16; plus `qcfg.json` with the keys fms-mo saves. Which Linears are
// quantized follows fms-mo's per-model_type lists (Llama/Granite, gpt_bigcode, BERT/RoBERTa);
// the others (lm_head, kept modules) stay float16 and are named in qskip_layer_name. Scheme:
// the fms-mo convention, int8, per channel or per tensor, optionally with narrow-weight
// recomputation. SmoothQuant needs activation statistics and is not applied (smoothq false).
class AiuExporter final : public Exporter
{
public:
    AiuExporter(ExportOptions options, std::string modelType);
    ~AiuExporter() override;

    void begin(const ConversionPlan& plan, const std::filesystem::path& directory) override;
    PreparedTensor prepare(
        const PlannedTensor& tensor, const Checkpoint& source, const PrepareControl& control = {}) const override;
    void commit(const PlannedTensor& tensor, PreparedTensor& prepared) override;
    void finish() override;
    std::vector<std::string> files() const override;

    // Whether fms-mo treats this weight as a quantized layer's (by its model-type fragments).
    bool isAiuQuantized(const std::string& weightName) const;
    bool smoothed(const std::string& module) const; // fms-mo's SmoothQuant gave it a smoothq_scale

private:
    ExportOptions m_options;
    std::string m_modelType;
    std::vector<std::string> m_fragments;
    std::filesystem::path m_directory;
    std::unique_ptr<TorchFileWriter> m_writer;
    std::vector<std::string> m_skipped; // Linear modules left in float16
    std::vector<std::string> m_files;
};

// fms-mo's `get_quantized_linear_names(model_type)`; empty for unsupported types.
std::vector<std::string> aiuQuantizedLinearNames(const std::string& modelType);
// The name fragments of the layers fms-mo's DQ flow smooths (config_quantize_smooth_layers:
// smoothq_scale_layers): k/v/gate/up for Llama and Granite, query/key/value/intermediate.dense for
// BERT and RoBERTa, c_attn/c_fc for gpt_bigcode.
std::vector<std::string> aiuSmoothQuantLayerNames(const std::string& modelType);

} // namespace qs
