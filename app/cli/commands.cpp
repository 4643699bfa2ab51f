// SPDX-License-Identifier: GPL-3.0-or-later
// The list of quantscope-cli's commands, and `help`, which reads it.
#include "commands.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace qs::cli {

// Each record is defined next to its command's code, in command_<name>.cpp.
extern const Command demoCommand, inspectCommand, convertCommand, schemesCommand, selectCommand, statsCommand,
    plotCommand, evalCommand, compareRecipesCommand, suggestCommand, calibrateCommand, tokenizeCommand, runCommand;
extern const Command helpCommand;

const std::vector<const Command*>& commands()
{
    static const std::vector<const Command*> list { &demoCommand, &inspectCommand, &convertCommand, &schemesCommand,
        &selectCommand, &statsCommand, &plotCommand, &evalCommand, &compareRecipesCommand, &suggestCommand, &calibrateCommand,
        &tokenizeCommand, &runCommand, &helpCommand };
    return list;
}

const Command* findCommand(const std::string& name)
{
    for (const Command* c : commands()) {
        if (name == c->name)
            return c;
    }
    return nullptr;
}

namespace {

std::string toolUsage()
{
    std::size_t width = 0;
    for (const Command* c : commands())
        width = std::max(width, std::strlen(c->name));
    std::string text = "usage: quantscope-cli COMMAND [OPTIONS]\n\ncommands:\n";
    for (const Command* c : commands())
        text += "  " + std::string(c->name) + std::string(width + 1 - std::strlen(c->name), ' ') + c->summary + "\n";
    return text
        + "\n'quantscope-cli help COMMAND' shows its options, 'quantscope-cli help --all' every\n"
          "command's. Exit codes: 0 success, 1 error, 2 bad usage, 130 cancelled (Ctrl+C; nothing\n"
          "is left behind).\n";
}

// `help --all`: the listing, then every command's usage under a heading of its own (what the
// man page is generated from).
std::string allUsages()
{
    std::string text = toolUsage();
    for (const Command* c : commands()) {
        if (c != &helpCommand)
            text += "\nThe " + std::string(c->name) + " command:\n" + c->usage();
    }
    return text;
}

int runHelp(const std::vector<std::string>& args)
{
    if (!args.empty() && args.front() == "--all") {
        std::fputs(allUsages().c_str(), stdout);
        return 0;
    }
    std::fputs(usage(args.empty() ? std::string() : args.front()).c_str(), stdout);
    return 0;
}

} // namespace

std::string usage(const std::string& command)
{
    const Command* c = findCommand(command); // `help help`: help's usage is the whole tool's
    return c ? c->usage() : toolUsage();
}

extern const Command helpCommand { "help", "show the usage of a command", toolUsage, runHelp };

} // namespace qs::cli
