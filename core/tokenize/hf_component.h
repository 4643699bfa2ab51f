// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Shared helpers for reading the components of a Hugging Face tokenizer.json.
#include "error.h"

#include <nlohmann/json.hpp>

#include <string>

namespace qs::hf {

// A component's "type", or FormatError naming the file and where the component sits.
std::string componentType(const nlohmann::json& j, const std::string& where, const std::string& file);
// UsageError: "<where> type <type> is not supported".
[[noreturn]] void unsupported(const std::string& where, const std::string& type, const std::string& file);
[[noreturn]] void malformed(const std::string& what, const std::string& file);

// Typed field access with defaults; FormatError when the field has another type.
std::string stringField(const nlohmann::json& j, const char* key, const std::string& fallback, const std::string& file);
bool boolField(const nlohmann::json& j, const char* key, bool fallback, const std::string& file);
std::int64_t intField(const nlohmann::json& j, const char* key, std::int64_t fallback, const std::string& file);

// A Split/Replace "pattern": {"String": s} or {"Regex": r}. `isRegex` tells which.
std::string patternField(const nlohmann::json& j, bool& isRegex, const std::string& file);

} // namespace qs::hf
