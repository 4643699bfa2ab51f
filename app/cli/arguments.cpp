// SPDX-License-Identifier: GPL-3.0-or-later
#include "arguments.h"

#include "error.h"

namespace qs::cli {

std::string Arguments::value(const std::string& option, const std::string& fallback) const
{
    const auto it = values.find(option);
    return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> Arguments::all(const std::string& option) const
{
    const auto it = values.find(option);
    return it == values.end() ? std::vector<std::string> {} : it->second;
}

long long Arguments::integer(const std::string& option, long long fallback, long long lo, long long hi) const
{
    const std::string v = value(option);
    if (v.empty())
        return fallback;
    long long n = 0;
    bool ok = false;
    try {
        std::size_t used = 0;
        n = std::stoll(v, &used);
        ok = used == v.size();
    } catch (const std::exception&) { }
    if (!ok || n < lo || n > hi)
        throw UsageError(
            option + ": '" + v + "' is not a number from " + std::to_string(lo) + " to " + std::to_string(hi));
    return n;
}

Arguments parseArguments(const std::string& command, const std::vector<std::string>& args, const OptionSpec& spec)
{
    Arguments out;
    bool optionsEnded = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (optionsEnded || arg.size() < 2 || arg[0] != '-') {
            out.positional.push_back(arg);
            continue;
        }
        if (arg == "--") {
            optionsEnded = true;
            continue;
        }
        std::string name = arg;
        std::string inlineValue;
        bool hasInline = false;
        if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            name = arg.substr(0, eq);
            inlineValue = arg.substr(eq + 1);
            hasInline = true;
        }
        if (const auto alias = spec.aliases.find(name); alias != spec.aliases.end())
            name = alias->second;
        if (spec.flags.count(name)) {
            if (hasInline)
                throw UsageError("'" + command + "': option " + name + " takes no value");
            out.flags.insert(name);
        } else if (spec.values.count(name)) {
            if (!hasInline) {
                if (i + 1 >= args.size())
                    throw UsageError("'" + command + "': option " + name + " needs a value");
                inlineValue = args[++i];
            }
            out.values[name].push_back(inlineValue);
        } else {
            throw UsageError(
                "'" + command + "': unknown option " + name + " (see 'quantscope-cli help " + command + "')");
        }
    }
    return out;
}

} // namespace qs::cli
