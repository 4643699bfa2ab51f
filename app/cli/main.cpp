// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli: the command-line twin of the QuantScope GUI, for batch and scripted use.
#include "commands.h"
#include "error.h"
#include "jobs/threads.h"

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char* argv[])
{
    using namespace qs::cli;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::fputs(usage().c_str(), stderr);
        return 2;
    }
    const std::string command = args.front();
    args.erase(args.begin());
    qs::useIntraOpThreads();
    try {
        if (command == "--version" || command == "version") {
            std::printf("quantscope-cli %s\n", QUANTSCOPE_VERSION);
            return 0;
        }
        const Command* c = findCommand(command == "--help" || command == "-h" ? "help" : command);
        if (!c)
            throw qs::UsageError("unknown command '" + command + "'");
        return c->run(args);
    } catch (const qs::UsageError& e) {
        std::fprintf(stderr, "quantscope-cli: %s\n", e.what());
        if (command != "help")
            std::fprintf(stderr, "run 'quantscope-cli help' for usage\n");
        return 2;
    } catch (const qs::CancelledError&) {
        std::fprintf(stderr, "quantscope-cli: cancelled; nothing was written\n");
        return 130;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "quantscope-cli: error: %s\n", e.what());
        return 1;
    }
}
