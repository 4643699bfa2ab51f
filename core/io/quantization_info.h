// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "io/tensor_info.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qs {

// How to turn one stored quantized weight back into float values.
struct DequantRecipe
{
    std::string weight; // the stored tensor (int8/fp8 codes, or int32 words for packed)
    std::string scale; // per-tensor [1]/[], per-channel [out,1]/[out], or per-group [out, in/group]
    std::string zeroPoint; // optional (asymmetric compressed-tensors)
    std::string shape; // pack-quantized: the int64 [2] tensor with the unpacked shape
    std::string smoothScale; // AIU SmoothQuant: the stored weight is W * s along inputs; divide by s
    int packedBits = 0; // pack-quantized: 4 or 8 bits per value in int32 words
    double scaleFactor = 1.0; // AIU: the stored value is a clip value; scale = clip / 127
    // compressed-tensors per-group scales: the config's group_size, which places the groups when
    // the last one is shorter (in features not a multiple of it); 0 when the config has none.
    std::int64_t groupSize = 0;
};

// What an already-quantized checkpoint is, recognised from config.json and the tensor names:
// - "compressed-tensors" (vLLM / llm-compressor): config.json `quantization_config` with
//   quant_method compressed-tensors; `<m>.weight` + `<m>.weight_scale` (+ `weight_zero_point`),
//   or `<m>.weight_packed` + `weight_scale` + `weight_shape` for pack-quantized;
// - "nxd" (AWS Neuron): int8/fp8 `<m>.weight` with a float `<m>.scale`;
// - "aiu" (IBM fms-mo qmodel_for_aiu.pt): int8 `<m>.weight` with `<m>.quantize_weight.clip_val`
//   (+ qcfg.json beside it);
// - "nanogpt-fork" (the nanoGPT quantization fork's QuantizedLinear and --store_activations,
//   in ckpt.pt or save_weights.py's .pkl): `<m>.quantized_weight` int codes with the per-tensor
//   scale `<m>.weight_norm` and `<m>.weight_zero_point` (the bias likewise), beside the float
//   `<m>.weight` in a ckpt.pt; activation codes `<block>.attn_act_*` / `mlp_act_*` with
//   `<point>_scale` and `<point>_zero_point`. Values are (q - zero_point) * scale;
// - another `quant_method` in config.json (gptq, awq, fp8, ...): named, not dequantized.
struct QuantizationInfo
{
    std::string kind; // empty for a float checkpoint
    std::string summary; // one line for people: "compressed-tensors int-quantized: int8 channel weights, ..."
    nlohmann::json details = nlohmann::json::object(); // the scheme as JSON (CLI --json)
    std::map<std::string, DequantRecipe> recipes; // by stored weight name
    std::map<std::string, std::string> companions; // scale/zero-point/shape tensor -> the weight it belongs to
    // nanogpt-fork: the float tensor a stored code tensor quantizes ("<m>.weight" ->
    // "<m>.quantized_weight"), when the checkpoint holds both.
    std::map<std::string, std::string> storedCodes;
    // nanogpt-fork: the stored activation code tensors, in file order.
    std::vector<std::string> activations;

    bool isQuantized() const { return !kind.empty(); }
};

QuantizationInfo detectQuantization(
    const std::vector<TensorInfo>& tensors, const nlohmann::json& config, const std::filesystem::path& folder);

} // namespace qs
