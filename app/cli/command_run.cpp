// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli run PROJECT.qsproj`: replays a project saved by the GUI (or by convert
// --save-project) on its checkpoint or another one, writing the same export.
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "export_output.h"
#include "io/checkpoint.h"
#include "model/module_tree.h"
#include "project/project.h"
#include "project/project_conversion.h"
#include "runtime/calibrated_export.h"
#include "terminal_progress.h"

#include <cstdio>

namespace qs::cli {
namespace {

std::string runUsage()
{
    return "quantscope-cli run PROJECT.qsproj [--checkpoint PATH] [-o OUT] [--force] [--json]\n"
           "  Replay a project saved with File > Save Project (or convert --save-project): open its\n"
           "  checkpoint, apply its keep rules, scheme, per-module schemes and algorithms, calibrate on\n"
           "  its data when it does, and write its export, byte for byte what the GUI's export writes.\n"
           "  --checkpoint PATH    another checkpoint of the same architecture (tomorrow's fine-tune);\n"
           "                       rules that match nothing there are reported\n"
           "  -o, --output OUT     write here instead of the project's export destination\n"
           "  --force              replace an existing OUT (the project's own overwrite setting otherwise)\n"
           "  --json               the conversion report as convert --json prints it\n"
           "  A project from a newer QuantScope (a higher schema version) or with an unknown field is\n"
           "  refused with the reason.\n";
}

int runRun(const std::vector<std::string>& raw)
{
    OptionSpec spec;
    spec.values = { "--checkpoint", "--output" };
    spec.flags = { "--force", "--json" };
    spec.aliases = { { "-o", "--output" } };
    const Arguments args = parseArguments("run", raw, spec);
    if (args.positional.size() != 1)
        throw UsageError("'run' needs exactly one project file: " + runUsage());
    Project project = readProject(args.positional.front());
    if (!args.value("--checkpoint").empty())
        project.checkpoint = args.value("--checkpoint");
    if (!args.value("--output").empty())
        project.output.destination = args.value("--output");
    if (args.has("--force"))
        project.output.overwrite = true;
    if (project.output.destination.empty())
        throw UsageError("the project names no export destination: give -o OUT");

    const Checkpoint checkpoint = Checkpoint::open(project.checkpoint);
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    const ProjectConversion conversion = projectConversion(project, tree);
    for (const auto& w : conversion.warnings)
        std::fprintf(stderr, "warning: %s\n", w.c_str());

    TerminalProgress progress;
    const CalibratedExport result
        = exportWithAlgorithms(checkpoint, tree, conversion.options, conversion.calibration, progress);
    progress.finish();
    for (const auto& stale : result.conversion.removedStaleStaging)
        std::fprintf(stderr, "note: removed %s, left by a conversion that was killed\n", stale.string().c_str());
    printExportResult(checkpoint, result, project.scheme, conversion.warnings, args.has("--json"));
    return 0;
}

} // namespace

extern const Command runCommand { "run", "replay a saved project (.qsproj) and write its export", runUsage, runRun };

} // namespace qs::cli
