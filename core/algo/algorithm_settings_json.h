// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "algo/algorithm_settings.h"

#include <nlohmann/json.hpp>

namespace qs {

// AlgorithmSettings as JSON, every field (project files): {"smoothquant": alpha or null,
// "smoothquant_mappings": [{"balance": [...], "smooth": "..."}], "smoothquant_ignore", "rotation",
// "rotation_seed", "rotation_r2", "rotation_online", "spinquant", "spinquant_steps",
// "spinquant_lr", "awq", "awq_mappings", "awq_ignore", "awq_duo_scaling", "awq_grid", "awq_clip",
// "gptq", "gptq_block_size", "gptq_dampening", "gptq_actorder", "propagate_error"}.
nlohmann::ordered_json algorithmSettingsToJson(const AlgorithmSettings& settings);
// Fields left out keep their defaults; an unknown field or a wrong type or value throws
// UsageError naming it.
AlgorithmSettings algorithmSettingsFromJson(const nlohmann::ordered_json& json);

} // namespace qs
