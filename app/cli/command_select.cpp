// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli select PATH [keep options] [--target T] [--json] [--write FORMAT -o FILE]`:
// resolves the keep rules against a checkpoint and shows, for every quantizable module, whether
// it stays in full precision and which rule decided it, with the warnings.
#include "arguments.h"
#include "commands.h"
#include "error.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "keep_options.h"
#include "model/module_tree.h"
#include "quant/quant_scheme.h"
#include "select/keep_list_io.h"
#include "select/selection.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace qs::cli {
namespace {

std::string selectUsage()
{
    return "quantscope-cli select PATH [keep options] [--target T] [--scheme PRESET] [--json]\n"
           "                      [--write FORMAT -o FILE]\n"
           "  Resolve keep rules against a checkpoint: for every quantizable (Linear) module, whether it\n"
           "  stays in full precision and the rule that decided it (rules apply in order; the last\n"
           "  matching rule wins; unmatched modules are quantized), with warnings: rules that match\n"
           "  nothing, NxD substrings that also match inside names (layers.1 vs layers.10), fused\n"
           "  q/k/v or gate/up groups with mixed status, modules the target cannot keep.\n"
        + keepOptionsUsage()
        + "  --target T           any (default), nxd, compressed-tensors, aiu: add that format's checks\n"
          "  --scheme PRESET      the scheme --keep-worst/--keep-below measure with (nxd-int8) and the\n"
          "                       recipe of --write recipe quantizes with (vllm-w8a8-int8)\n"
          "  --write FORMAT -o FILE  write the kept modules as " + std::string(keepListFormats()) + "\n"
          "  --json               print {\"modules\": [{\"name\", \"keep\", \"rule\"}], \"warnings\":\n"
          "                       [{\"kind\", \"message\", \"modules\"}], \"kept\", \"quantized\"}\n";
}

int runSelect(const std::vector<std::string>& args)
{
    OptionSpec spec;
    spec.values = { "--target", "--scheme", "--write", "--output" };
    spec.flags = { "--json" };
    spec.aliases = { { "-o", "--output" } };
    addKeepOptions(spec);
    const Arguments a = parseArguments("select", args, spec);
    if (a.positional.size() != 1)
        throw UsageError("select needs exactly one checkpoint path");
    const auto target = keepTargetFromName(a.value("--target", "any"));
    if (!target)
        throw UsageError("--target: '" + a.value("--target") + "'; targets: any, nxd, compressed-tensors, aiu");
    const auto scheme = findSchemePreset(a.value("--scheme", "nxd-int8"));
    if (!scheme)
        throw UsageError("--scheme: unknown preset '" + a.value("--scheme") + "' (see 'quantscope-cli schemes')");
    if (a.values.count("--write") != a.values.count("--output"))
        throw UsageError("--write FORMAT and -o FILE go together");

    const Checkpoint checkpoint = Checkpoint::open(a.positional.front());
    const ModuleTree tree = ModuleTree::build(checkpoint.tensors(), checkpoint.modelType());
    const std::vector<SelectionRule> rules = keepRulesFromArguments(a, checkpoint, tree, *scheme);
    const SelectionResult result = resolveSelection(tree, rules, *target);

    if (a.values.count("--write")) {
        const std::string text = keepListText(a.value("--write"), tree, result.kept(), rules,
            *findSchemePreset(a.value("--scheme", "vllm-w8a8-int8")));
        writeFileAtomically(a.value("--output"), text);
    }

    if (a.has("--json")) {
        nlohmann::ordered_json j;
        j["modules"] = nlohmann::ordered_json::array();
        for (const auto& d : result.modules) {
            nlohmann::ordered_json m;
            m["name"] = tree.node(d.module).path;
            m["keep"] = d.keep;
            m["rule"] = d.rule >= 0 ? nlohmann::ordered_json(describeRule(rules[static_cast<std::size_t>(d.rule)]))
                                    : nlohmann::ordered_json(nullptr);
            if (!d.scheme.empty())
                m["scheme"] = d.scheme;
            j["modules"].push_back(std::move(m));
        }
        j["warnings"] = nlohmann::ordered_json::array();
        for (const auto& w : result.warnings) {
            nlohmann::ordered_json o;
            o["kind"] = w.kind;
            o["message"] = w.message;
            if (!w.modules.empty())
                o["modules"] = w.modules;
            j["warnings"].push_back(std::move(o));
        }
        j["kept"] = static_cast<int>(result.kept().size());
        j["quantized"] = static_cast<int>(result.modules.size() - result.kept().size());
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::size_t width = 8;
    for (const auto& d : result.modules)
        width = std::max(width, tree.node(d.module).path.size());
    for (const auto& d : result.modules) {
        std::printf("%-*s  %-8s  %s\n", static_cast<int>(width), tree.node(d.module).path.c_str(),
            d.keep ? "keep" : "quantize",
            d.rule >= 0 ? describeRule(rules[static_cast<std::size_t>(d.rule)]).c_str() : "(default)");
    }
    std::printf("%zu kept, %zu quantized\n", result.kept().size(), result.modules.size() - result.kept().size());
    for (const auto& w : result.warnings)
        std::fprintf(stderr, "warning: %s\n", w.message.c_str());
    return 0;
}

} // namespace

extern const Command selectCommand { "select", "show which modules stay in full precision, and why", selectUsage,
    runSelect };

} // namespace qs::cli
