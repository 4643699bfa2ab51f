// SPDX-License-Identifier: GPL-3.0-or-later
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "quant/quant_scheme.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

std::string schemesUsage()
{
    return "quantscope-cli schemes [--json]\n"
           "  List the quantization scheme presets (NxD, vLLM compressed-tensors, IBM AIU, nanoGPT).\n"
           "  --json  every field of every preset: [{\"name\", \"description\", \"format\", \"bits\",\n"
           "          \"symmetric\", \"granularity\", \"axis\", \"group_size\", \"rounding\", \"seed\",\n"
           "          \"clipping\", \"percentile\", \"fp8_max\", \"convention\",\n"
           "          \"recompute_narrow_weights\", \"narrow_std_threshold\", \"activations\",\n"
           "          \"nanogpt_quirks\", \"weight_dtype_math\"}]\n";
}

// Lists the quantization scheme presets of the four source systems, with every field.
int runSchemes(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.flags = { "--json" };
    const Arguments args = parseArguments("schemes", raw, spec);
    if (!args.positional.empty())
        throw UsageError("'schemes' takes no arguments: quantscope-cli schemes [--json]");
    const auto& presets = schemePresets();
    if (args.has("--json")) {
        nlohmann::ordered_json j = nlohmann::ordered_json::array();
        for (const auto& s : presets)
            j.push_back(schemeToJson(s));
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::size_t width = 4;
    for (const auto& s : presets)
        width = std::max(width, s.name.size());
    for (const auto& s : presets) {
        std::string shape = std::string(formatName(s.format));
        if (s.format == QuantFormat::Int)
            shape = "int" + std::to_string(s.bits) + (s.symmetric ? " sym" : " affine");
        shape += " " + std::string(granularityName(s.granularity));
        if (s.granularity == Granularity::Group)
            shape += " " + std::to_string(s.groupSize);
        std::printf("%-*s  %-22s  %s\n", static_cast<int>(width), s.name.c_str(), shape.c_str(), s.description.c_str());
    }
    return 0;
}

} // namespace

extern const Command schemesCommand { "schemes", "list the quantization scheme presets", schemesUsage, runSchemes };

} // namespace qs::cli
