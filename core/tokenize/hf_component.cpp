// SPDX-License-Identifier: GPL-3.0-or-later
#include "tokenize/hf_component.h"

namespace qs::hf {

std::string componentType(const nlohmann::json& j, const std::string& where, const std::string& file)
{
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        malformed(where + " has no \"type\"", file);
    return j["type"].get<std::string>();
}

void unsupported(const std::string& where, const std::string& type, const std::string& file)
{
    throw UsageError(where + " type \"" + type + "\" is not supported", ErrorContext { file, {}, {} });
}

void malformed(const std::string& what, const std::string& file)
{
    throw FormatError("malformed tokenizer.json: " + what, ErrorContext { file, {}, {} });
}

std::string stringField(const nlohmann::json& j, const char* key, const std::string& fallback, const std::string& file)
{
    if (!j.contains(key) || j[key].is_null())
        return fallback;
    if (!j[key].is_string())
        malformed(std::string("\"") + key + "\" is not a string", file);
    return j[key].get<std::string>();
}

bool boolField(const nlohmann::json& j, const char* key, bool fallback, const std::string& file)
{
    if (!j.contains(key) || j[key].is_null())
        return fallback;
    if (!j[key].is_boolean())
        malformed(std::string("\"") + key + "\" is not a boolean", file);
    return j[key].get<bool>();
}

std::int64_t intField(const nlohmann::json& j, const char* key, std::int64_t fallback, const std::string& file)
{
    if (!j.contains(key) || j[key].is_null())
        return fallback;
    if (!j[key].is_number_integer())
        malformed(std::string("\"") + key + "\" is not an integer", file);
    return j[key].get<std::int64_t>();
}

std::string patternField(const nlohmann::json& j, bool& isRegex, const std::string& file)
{
    const auto& p = j.contains("pattern") ? j["pattern"] : nlohmann::json();
    if (p.is_object() && p.contains("String") && p["String"].is_string()) {
        isRegex = false;
        return p["String"].get<std::string>();
    }
    if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) {
        isRegex = true;
        return p["Regex"].get<std::string>();
    }
    malformed("\"pattern\" is neither {\"String\": ...} nor {\"Regex\": ...}", file);
}

} // namespace qs::hf
