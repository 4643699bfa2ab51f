// SPDX-License-Identifier: GPL-3.0-or-later
#include "algo/algorithm_settings_json.h"

#include "error.h"

#include <functional>
#include <map>

namespace qs {
namespace {

using Json = nlohmann::ordered_json;

Json mappingsToJson(const std::vector<SmoothQuantMapping>& mappings)
{
    Json out = Json::array();
    for (const auto& m : mappings)
        out.push_back({ { "balance", m.balance }, { "smooth", m.smooth } });
    return out;
}

[[noreturn]] void wrong(const std::string& field, const std::string& what)
{
    throw UsageError("algorithms: '" + field + "' " + what);
}

std::vector<std::string> strings(const Json& v, const std::string& field)
{
    if (!v.is_array())
        wrong(field, "must be an array of strings");
    std::vector<std::string> out;
    for (const auto& s : v) {
        if (!s.is_string())
            wrong(field, "must be an array of strings");
        out.push_back(s.get<std::string>());
    }
    return out;
}

std::vector<SmoothQuantMapping> mappings(const Json& v, const std::string& field)
{
    if (!v.is_array())
        wrong(field, "must be an array of {\"balance\", \"smooth\"}");
    std::vector<SmoothQuantMapping> out;
    for (const auto& m : v) {
        if (!m.is_object() || !m.contains("balance") || !m.contains("smooth") || m.size() != 2
            || !m["smooth"].is_string())
            wrong(field, "must be an array of {\"balance\": [names], \"smooth\": name}");
        out.push_back({ strings(m["balance"], field + ".balance"), m["smooth"].get<std::string>() });
    }
    return out;
}

bool boolean(const Json& v, const std::string& field)
{
    if (!v.is_boolean())
        wrong(field, "must be true or false");
    return v.get<bool>();
}

double number(const Json& v, const std::string& field)
{
    if (!v.is_number())
        wrong(field, "must be a number");
    return v.get<double>();
}

long long integer(const Json& v, const std::string& field, long long lo, long long hi)
{
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
        wrong(field, "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v.get<long long>();
}

std::string oneOf(const Json& v, const std::string& field, std::initializer_list<const char*> values)
{
    std::string names;
    for (const char* n : values) {
        if (v.is_string() && v.get<std::string>() == n)
            return n;
        names += (names.empty() ? "" : ", ") + (*n ? std::string(n) : std::string("\"\""));
    }
    wrong(field, "must be one of " + names);
}

} // namespace

Json algorithmSettingsToJson(const AlgorithmSettings& a)
{
    Json j;
    j["smoothquant"] = a.smoothQuant ? Json(*a.smoothQuant) : Json(nullptr);
    j["smoothquant_mappings"] = mappingsToJson(a.smoothQuantMappings);
    j["smoothquant_ignore"] = a.smoothQuantIgnore;
    j["rotation"] = a.rotation;
    j["rotation_seed"] = a.rotationSeed;
    j["rotation_r2"] = a.rotationR2;
    j["rotation_online"] = a.rotationOnline;
    j["spinquant"] = a.spinQuant;
    j["spinquant_steps"] = a.spinQuantSteps;
    j["spinquant_lr"] = a.spinQuantLr;
    j["awq"] = a.awq;
    j["awq_mappings"] = mappingsToJson(a.awqMappings);
    j["awq_ignore"] = a.awqIgnore;
    j["awq_duo_scaling"] = a.awqDuoScaling;
    j["awq_grid"] = a.awqGrid;
    j["awq_clip"] = a.awqClip;
    j["gptq"] = a.gptq;
    j["gptq_block_size"] = a.gptqBlockSize;
    j["gptq_dampening"] = a.gptqDampening;
    j["gptq_actorder"] = a.gptqActOrder;
    j["propagate_error"] = a.propagateError;
    return j;
}

AlgorithmSettings algorithmSettingsFromJson(const Json& j)
{
    if (!j.is_object())
        throw UsageError("algorithms must be a JSON object");
    AlgorithmSettings a;
    using Reader = std::function<void(const Json&, const std::string&)>;
    const std::map<std::string, Reader> readers {
        { "smoothquant",
            [&](const Json& v, const std::string& f) {
                if (v.is_null())
                    a.smoothQuant.reset();
                else if (const double alpha = number(v, f); alpha >= 0 && alpha <= 1)
                    a.smoothQuant = alpha;
                else
                    wrong(f, "must be null or a number in [0, 1]");
            } },
        { "smoothquant_mappings",
            [&](const Json& v, const std::string& f) { a.smoothQuantMappings = mappings(v, f); } },
        { "smoothquant_ignore", [&](const Json& v, const std::string& f) { a.smoothQuantIgnore = strings(v, f); } },
        { "rotation",
            [&](const Json& v, const std::string& f) {
                a.rotation = oneOf(v, f, { "", "hadamard", "random" });
            } },
        { "rotation_seed",
            [&](const Json& v, const std::string& f) {
                if (!v.is_number_unsigned())
                    wrong(f, "must be an unsigned integer");
                a.rotationSeed = v.get<std::uint64_t>();
            } },
        { "rotation_r2", [&](const Json& v, const std::string& f) { a.rotationR2 = boolean(v, f); } },
        { "rotation_online", [&](const Json& v, const std::string& f) { a.rotationOnline = boolean(v, f); } },
        { "spinquant", [&](const Json& v, const std::string& f) { a.spinQuant = boolean(v, f); } },
        { "spinquant_steps",
            [&](const Json& v, const std::string& f) {
                a.spinQuantSteps = static_cast<int>(integer(v, f, 1, 1 << 20));
            } },
        { "spinquant_lr", [&](const Json& v, const std::string& f) { a.spinQuantLr = number(v, f); } },
        { "awq", [&](const Json& v, const std::string& f) { a.awq = boolean(v, f); } },
        { "awq_mappings", [&](const Json& v, const std::string& f) { a.awqMappings = mappings(v, f); } },
        { "awq_ignore", [&](const Json& v, const std::string& f) { a.awqIgnore = strings(v, f); } },
        { "awq_duo_scaling",
            [&](const Json& v, const std::string& f) {
                a.awqDuoScaling = oneOf(v, f, { "true", "false", "both" });
            } },
        { "awq_grid",
            [&](const Json& v, const std::string& f) { a.awqGrid = static_cast<int>(integer(v, f, 1, 1000)); } },
        { "awq_clip", [&](const Json& v, const std::string& f) { a.awqClip = boolean(v, f); } },
        { "gptq", [&](const Json& v, const std::string& f) { a.gptq = boolean(v, f); } },
        { "gptq_block_size",
            [&](const Json& v, const std::string& f) {
                a.gptqBlockSize = static_cast<int>(integer(v, f, 1, 1 << 20));
            } },
        { "gptq_dampening",
            [&](const Json& v, const std::string& f) {
                a.gptqDampening = number(v, f);
                if (!(a.gptqDampening >= 0 && a.gptqDampening < 1))
                    wrong(f, "must be a number in [0, 1)");
            } },
        { "gptq_actorder",
            [&](const Json& v, const std::string& f) {
                a.gptqActOrder = oneOf(v, f, { "static", "group", "none" });
            } },
        { "propagate_error", [&](const Json& v, const std::string& f) { a.propagateError = boolean(v, f); } },
    };
    for (const auto& item : j.items()) {
        const auto reader = readers.find(item.key());
        if (reader == readers.end())
            throw UsageError("algorithms: unknown field '" + item.key() + "'");
        reader->second(item.value(), item.key());
    }
    return a;
}

} // namespace qs
