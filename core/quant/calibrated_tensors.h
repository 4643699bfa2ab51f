// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What a calibration computed for an export, held for the exporters in an unnamed temporary file
// so that memory does not grow with the model: tensors with new values (SmoothQuant's smoothed
// norms and balance weights, in the checkpoint's dtype, as llm-compressor smooths in the model's
// dtype), weights whose codes and scales an algorithm chose (GPTQ), and per module the static
// activation scale of its input and SmoothQuant's factors. Written by one thread during the
// calibration, then read by any number of exporter threads.
#include "io/checkpoint.h"
#include "quant/scheme_quantizer.h"

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qs {

class CalibratedTensors
{
public:
    // The file goes into `folder` (empty: the temporary folder).
    explicit CalibratedTensors(const std::filesystem::path& folder = {});
    ~CalibratedTensors();
    CalibratedTensors(const CalibratedTensors&) = delete;
    CalibratedTensors& operator=(const CalibratedTensors&) = delete;

    // New values for a tensor of the checkpoint (converted to its dtype, in its shape; a Conv1D
    // weight given as [out, in] is stored transposed as the checkpoint holds it).
    void replace(const TensorInfo& original, const at::Tensor& values);
    // A tensor the checkpoint does not have, `like` an existing one (its dtype), in its own shape:
    // a rotated tied model's separate head. And config keys the result overrides.
    void add(const std::string& name, const TensorInfo& like, const at::Tensor& values);
    void patchConfig(const nlohmann::json& patch) { m_configPatch.update(patch); }
    const nlohmann::json& configPatch() const { return m_configPatch; }
    std::size_t addedCount() const { return m_added.size(); }
    // A weight's codes and scales, with the error of their reconstruction (`dequantized`, or
    // dequantizeScheme(q)) against `reference` (the float weight the algorithm started from);
    // `groupIndex` [in] int32: each input column's group when the groups are not contiguous
    // (GPTQ's group activation order, compressed-tensors' weight_g_idx).
    void setQuantized(const std::string& weightName, const SchemeQuantized& q, const at::Tensor& reference,
        const at::Tensor& dequantized = {}, const at::Tensor& groupIndex = {});
    at::Tensor groupIndex(const std::string& weightName) const; // undefined when contiguous
    // The static activation scale of a module's input (float32, what the consumer divides by).
    void setInputScale(const std::string& module, float scale) { m_inputScales[module] = scale; }
    // fms-mo's SmoothQuant: the factors s [in] the module's input is divided by at run time (its
    // weight's columns were multiplied by them before quantizing).
    void setSmoothScale(const std::string& module, const at::Tensor& scale);

    // The checkpoint with the replaced tensors read from here.
    Checkpoint apply(const Checkpoint& checkpoint) const;
    std::optional<SchemeQuantized> quantized(const std::string& weightName) const;
    std::optional<float> inputScale(const std::string& module) const;
    const std::map<std::string, float>& inputScales() const { return m_inputScales; }
    at::Tensor smoothScale(const std::string& module) const; // undefined when none
    bool hasSmoothScale(const std::string& module) const { return m_smoothScales.count(module) > 0; }
    std::vector<std::string> smoothedModules() const;
    std::size_t replacedCount() const { return m_replaced.size(); }
    std::size_t quantizedCount() const { return m_quantized.size(); }
    std::uint64_t fileBytes() const { return m_size; }

private:
    struct Stored
    {
        at::ScalarType type = at::kFloat;
        std::vector<std::int64_t> shape;
        std::uint64_t offset = 0;
        bool defined = false;
    };
    struct Quantized
    {
        SchemeQuantized meta; // everything but the tensors
        Stored codes, scale, zeroPoint, clip, groupIndex;
    };
    Stored store(const at::Tensor& t);
    at::Tensor load(const Stored& s) const;

    int m_fd = -1;
    std::filesystem::path m_folder;
    std::uint64_t m_size = 0;
    std::vector<TensorInfo> m_replaced;
    std::vector<TensorInfo> m_added;
    nlohmann::json m_configPatch = nlohmann::json::object();
    std::map<std::string, Quantized> m_quantized;
    std::map<std::string, float> m_inputScales;
    std::map<std::string, Stored> m_smoothScales;
};

} // namespace qs
