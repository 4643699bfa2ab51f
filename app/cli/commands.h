// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>
#include <vector>

namespace qs::cli {

// One command of quantscope-cli. Each command_<name>.cpp defines its record next to its code;
// commands.cpp holds the one list of them that dispatch, `help` and the command listing read.
struct Command
{
    const char* name;
    const char* summary; // its line in the command listing
    std::string (*usage)(); // the text of `quantscope-cli help NAME`
    // Gets the arguments after the command's name and returns the process exit code. Errors
    // are thrown as qs::Error subclasses; main() turns them into messages and exit codes.
    int (*run)(const std::vector<std::string>& args);
};

// Every command, in the order of the listing.
const std::vector<const Command*>& commands();

// The command called `name`, or nullptr.
const Command* findCommand(const std::string& name);

// Usage text of one command, or of the whole tool for an empty or unknown name.
std::string usage(const std::string& command = {});

} // namespace qs::cli
