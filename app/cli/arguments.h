// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace qs::cli {

// Which options a command accepts. Names include the dashes ("--keep", "-o").
struct OptionSpec
{
    std::set<std::string> flags; // take no value
    std::set<std::string> values; // take one value each time they appear
    std::map<std::string, std::string> aliases; // "-o" -> "--output"
};

struct Arguments
{
    std::vector<std::string> positional;
    std::map<std::string, std::vector<std::string>> values;
    std::set<std::string> flags;

    bool has(const std::string& flag) const { return flags.count(flag) > 0; }
    // The last value given for `option`, or `fallback`.
    std::string value(const std::string& option, const std::string& fallback = {}) const;
    std::vector<std::string> all(const std::string& option) const;
    // The whole value of `option` as an integer in [lo, hi], or `fallback` when absent;
    // UsageError naming the option and the range otherwise ("--bins: '12abc' is not ...").
    long long integer(const std::string& option, long long fallback, long long lo, long long hi) const;
};

// Parses `--name value`, `--name=value`, `-o value` and flags; "--" ends the options.
// Throws qs::UsageError naming the command and the offending argument.
Arguments parseArguments(const std::string& command, const std::vector<std::string>& args, const OptionSpec& spec);

} // namespace qs::cli
