// SPDX-License-Identifier: GPL-3.0-or-later
#include "arguments.h"
#include "commands.h"
#include "demo/demo_model.h"
#include "error.h"

#include <cstdio>

namespace qs::cli {
namespace {

std::string demoUsage()
{
    return "quantscope-cli demo -o DIR [--force]\n"
           "  Write the built-in demo model (a small Llama-shaped bf16 checkpoint) to DIR.\n";
}

int runDemo(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.values = { "--output" };
    spec.flags = { "--force" };
    spec.aliases = { { "-o", "--output" } };
    const Arguments args = parseArguments("demo", raw, spec);
    if (!args.positional.empty())
        throw UsageError("'demo' takes no positional arguments; write the folder with -o DIR");
    const std::string out = args.value("--output");
    if (out.empty())
        throw UsageError("'demo' needs the output folder: quantscope-cli demo -o DIR");
    writeDemoModel(out, args.has("--force"));
    std::printf("wrote the demo model to %s\n", out.c_str());
    return 0;
}

} // namespace

extern const Command demoCommand { "demo", "write the built-in demo model", demoUsage, runDemo };

} // namespace qs::cli
